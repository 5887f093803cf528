"""The assembled service: surviving kill -9, shutting down cleanly, serving the dashboard and the docs."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from live_server import Server, wait_for

QUICK = {"think_ms": 0, "hold_ms": [0, 50]}
LONG = {"buyers": 30, "tickets": 1, "think_ms": 60_000, "hold_ms": 0}


def test_main_restart_after_kill9_keeps_results_and_interrupts_the_run(start_server: Callable[..., Server]) -> None:
    first = start_server()
    done = first.wait_finished(first.post({"buyers": 5, "tickets": 1, "lock": "file", **QUICK})["id"])
    assert done["status"] == "completed"
    killed = first.post(LONG)
    first.wait_until(killed["id"], lambda s: s["status"] == "running", 60, "running")
    wait_for(lambda: len(first.descendants()) >= 20, 60, "buyer processes to be launched")

    first.kill()

    first.assert_nothing_left()  # the run process and its buyers die with the server
    run_dir = first.data_dir / "runs" / killed["id"]
    half_written = ["db.json.4242.tmp", "db.json.rehearsal.tmp", "buyers.sqlite3.partial"]
    for name in half_written:  # as writers killed mid-write leave them
        (run_dir / name).write_bytes(b'{"cou')
    second = start_server(data_dir=first.data_dir)
    assert second.get(done["id"]) == done
    assert second.client.get(f"/simulations/{done['id']}/buyers").json()["count"] == 5
    interrupted = second.get(killed["id"])
    assert interrupted["status"] == "interrupted"
    assert interrupted["error"] == "the server stopped while this simulation was running"
    assert interrupted["finished_at"] is not None
    assert not [name for name in half_written if (run_dir / name).exists()]
    assert json.loads((run_dir / "db.json").read_text()) == {"count": 1}  # the db itself stays, whole
    assert second.wait_finished(second.post({"buyers": 2, **QUICK})["id"])["status"] == "completed"


def test_main_sigterm_cancels_running_and_queued_runs(start_server: Callable[..., Server]) -> None:
    first = start_server(TICKETRUSH_MAX_RUNNING="1")
    running = first.post(LONG)
    queued = first.post(LONG)
    first.wait_until(running["id"], lambda s: s["status"] == "running", 60, "running")
    wait_for(lambda: len(first.descendants()) >= 20, 60, "buyer processes to be launched")

    first.stop()  # SIGTERM; checks a clean exit and that no process is left

    second = start_server(data_dir=first.data_dir)
    assert second.get(running["id"])["status"] == "cancelled"
    assert second.get(queued["id"])["status"] == "cancelled"


def test_main_serves_the_dashboard_and_the_docs(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/static/index.html").content == page.content
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/simulations",
        "/simulations/{simulation_id}",
        "/simulations/{simulation_id}/buyers",
        "/simulations/{simulation_id}/events",
        "/simulations/{simulation_id}/cancel",
        "/healthz",
        "/metrics",
    } <= set(paths)

"""The assembled service: started as `make run` starts it, one server per data dir, a bad setting refused in
one line, surviving kill -9, shutting down cleanly, serving the dashboard and the docs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from live_server import Server, default_environment, free_port, parse_metrics, serve_command, wait_for

QUICK = {"think_ms": 0, "hold_ms": [0, 50]}
LONG = {"buyers": 30, "tickets": 1, "think_ms": 60_000, "hold_ms": 0}


def test_main_make_run_shows_a_runs_buyers_from_its_relative_data_dir(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(project_root=tmp_path)  # `ticketrush serve` in tmp_path, no TICKETRUSH_* set: ./data
    sim_id = server.post({"buyers": 5, "tickets": 2, "lock": "file", **QUICK})["id"]
    assert server.wait_finished(sim_id)["status"] == "completed"

    page = server.client.get(f"/simulations/{sim_id}/buyers")
    exported = server.client.get(f"/simulations/{sim_id}/buyers", params={"format": "csv"})

    assert page.status_code == 200, page.text
    assert page.json()["count"] == 5
    assert sorted(b["buyer"] for b in page.json()["data"]) == [1, 2, 3, 4, 5]
    assert sum(b["outcome"] == "success" for b in page.json()["data"]) == 2
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(int(r["buyer"]) for r in rows) == [1, 2, 3, 4, 5]
    assert (tmp_path / "data" / "ticketrush.sqlite3").is_file()
    assert (tmp_path / "data" / "runs" / sim_id / "buyers.sqlite3").is_file()


@pytest.mark.parametrize("port", ["another port", "the same port"])
def test_main_second_server_on_a_data_dir_in_use_stops_at_once_touching_nothing(
    start_server: Callable[..., Server], tmp_path: Path, port: str
) -> None:
    first = start_server(project_root=tmp_path)
    running = first.post(LONG)
    first.wait_until(running["id"], lambda s: s["status"] == "running", 60, "running")

    second = subprocess.run(
        serve_command(first.port if port == "the same port" else free_port()),
        cwd=tmp_path,
        env=default_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1, second.stderr
    assert second.stderr.splitlines() == [
        f"ticketrush: the data dir {tmp_path / 'data'} is in use by the ticketrush server with pid "
        f"{first.process.pid}; stop it, or give this server another TICKETRUSH_DATA_DIR"
    ]
    still = first.get(running["id"])
    assert (still["status"], still["error"], still["finished_at"]) == ("running", None, None)
    assert first.client.post(f"/simulations/{running['id']}/cancel").json()["status"] == "cancelled"


def test_main_bad_setting_stops_the_server_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    refused = subprocess.run(
        serve_command(free_port()),
        cwd=tmp_path,
        env=default_environment(TICKETRUSH_MAX_RUNNING="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert refused.returncode == 2
    assert (
        refused.stderr
        == "ticketrush: TICKETRUSH_MAX_RUNNING must be a whole number, at least 1 and at most 64 (got '0')\n"
    )
    assert list(tmp_path.iterdir()) == []  # no data dir was made


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
    stopped, waiting = second.get(running["id"]), second.get(queued["id"])
    assert (stopped["status"], stopped["error"]) == (
        "cancelled",
        "the server was shut down while this simulation was running",
    )
    assert (waiting["status"], waiting["error"]) == (
        "cancelled",
        "the server was shut down before this simulation could start",
    )


def test_main_metrics_totals_are_counters_that_deleting_and_restarting_never_lower(
    start_server: Callable[..., Server],
) -> None:
    first = start_server()
    ids = [
        first.post({"buyers": 4, "tickets": 1, "lock": "none", "seed": 7, "think_ms": 0, "hold_ms": 100})["id"]
        for _ in range(2)
    ]
    results = [first.wait_finished(i)["result"] for i in ids]
    response = first.client.get("/metrics")
    before = parse_metrics(response.text)

    assert first.client.delete(f"/simulations/{ids[0]}").status_code == 204
    after_delete = parse_metrics(first.client.get("/metrics").text)
    first.stop()
    second = start_server(data_dir=first.data_dir)
    after_restart = parse_metrics(second.client.get("/metrics").text)

    for name in (
        "# TYPE ticketrush_buyers_total counter",
        "# TYPE ticketrush_tickets_sold_total counter",
        "# TYPE ticketrush_tickets_oversold_total counter",
        "# TYPE ticketrush_simulations gauge",
    ):
        assert name in response.text.splitlines(), response.text
    totals = {
        "ticketrush_buyers_total": sum(r["buyers_total"] for r in results),
        "ticketrush_tickets_sold_total": sum(r["tickets_sold"] for r in results),
        "ticketrush_tickets_oversold_total": sum(r["oversold"] for r in results),
    }
    for name, value in totals.items():
        assert before[name] == after_delete[name] == after_restart[name] == value, name
    assert before['ticketrush_simulations{status="completed"}'] == 2
    assert after_delete['ticketrush_simulations{status="completed"}'] == 1
    assert after_restart['ticketrush_simulations{status="completed"}'] == 1


def test_main_serves_the_dashboard_and_the_docs(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/static/index.html").content == page.content
    docs = client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", docs.text)
    assert {"/static/vendor/swagger-ui/swagger-ui-bundle.js", "/openapi.json"} <= set(assets), assets
    assert all(asset.startswith("/") for asset in assets), assets  # nothing from outside
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404  # ReDoc would load its code and fonts from outside
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

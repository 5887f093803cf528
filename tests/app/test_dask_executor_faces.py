"""Executor 'dask' as the service and the command line meet it: refused without its scheduler (naming the
variable), with a lock that works on one host only, and with more tasks than its cluster's worker threads."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from live_server import Server

from app.cli import main
from bench.cluster import start_cluster, stop_cluster

RACE = {"buyers": 10, "tickets": 1, "think_ms": 0, "hold_ms": 0, "store": "redis", "executor": "dask"}


def test_a_dask_run_without_its_scheduler_is_refused_naming_the_variable(start_server: Callable[..., Server]) -> None:
    server = start_server(TICKETRUSH_REDIS_URL="redis://127.0.0.1:6379/0", TICKETRUSH_DASK_SCHEDULER="")
    refused = server.client.post("/simulations", json={**RACE, "strategy": "atomic"})
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "executor"]
    assert "executor dask needs TICKETRUSH_DASK_SCHEDULER, the address of its Dask scheduler" in error["msg"]
    assert server.client.get("/simulations").json()["count"] == 0


@pytest.mark.parametrize("lock", ["process", "file", "semaphore"])
def test_a_dask_run_with_a_one_host_lock_is_refused_saying_why(start_server: Callable[..., Server], lock: str) -> None:
    server = start_server(TICKETRUSH_REDIS_URL="redis://127.0.0.1:6379/0", TICKETRUSH_DASK_SCHEDULER="tcp://h:8786")
    refused = server.client.post("/simulations", json={**RACE, "lock": lock})
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "executor"]
    assert f"lock '{lock}' works on one host only" in error["msg"]
    assert "use strategy 'read-write', 'atomic' or 'optimistic' (read-write with lock 'redis')" in error["msg"]


def test_cli_refuses_a_dask_run_without_its_scheduler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICKETRUSH_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("TICKETRUSH_DASK_SCHEDULER", raising=False)
    code = main(["run", "--store", "redis", "--strategy", "atomic", "--executor", "dask"], out=io.StringIO())
    assert code == 2
    assert "ticketrush: --executor: executor dask needs TICKETRUSH_DASK_SCHEDULER" in capsys.readouterr().err


@pytest.mark.redis
def test_a_dask_run_of_more_tasks_than_worker_threads_is_refused_and_a_run_names_its_hosts(
    start_server: Callable[..., Server],
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = start_cluster(tmp_path / "dask", workers=1, threads=2)  # stopped before the server's checks
    try:
        server = start_server(TICKETRUSH_REDIS_URL=redis_url, TICKETRUSH_DASK_SCHEDULER=cluster.address)
        refused = server.client.post("/simulations", json={**RACE, "strategy": "atomic", "workers": 3})
        assert refused.status_code == 422
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", "workers"]
        assert error["msg"].startswith(
            f"workers: 3 tasks are more than the 2 worker threads of the Dask cluster at {cluster.address}: every task "
            "waits at the start line"
        )
        assert server.client.get("/simulations").json()["count"] == 0
        sim_id = server.post({**RACE, "strategy": "atomic", "workers": 2})["id"]
        finished = server.wait_finished(sim_id)
        assert finished["status"] == "completed", finished
        assert "The buyers ran in 2 dask tasks on 1 host (127.0.0.1)" in finished["result"]["explanation"]
        page = server.client.get(f"/simulations/{sim_id}/buyers").json()
        assert {b["host"] for b in page["data"]} == {"127.0.0.1"} and page["count"] == 10
        rows = list(csv.DictReader(io.StringIO(server.client.get(f"/simulations/{sim_id}/buyers?format=csv").text)))
        assert len(rows) == 10 and {row["host"] for row in rows} == {"127.0.0.1"}

        monkeypatch.setenv("TICKETRUSH_REDIS_URL", redis_url)
        monkeypatch.setenv("TICKETRUSH_DASK_SCHEDULER", cluster.address)
        command = ["run", "--store", "redis", "--strategy", "atomic", "--executor", "dask", "--workers", "3"]
        assert main(command, out=io.StringIO()) == 2
        assert capsys.readouterr().err.startswith("ticketrush: --workers: 3 tasks are more than the 2 worker threads")
    finally:
        stop_cluster(cluster)

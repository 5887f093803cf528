"""Executor 'dask' as the service and the command line meet it: refused without its scheduler (naming the
variable) and with a lock that works on one host only."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from live_server import Server

from app.cli import main

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

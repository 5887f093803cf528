"""Admission and run processes against real servers: the queue limit, first in first out, the time limit, a
run process that dies, and the buyer limits.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient
from live_server import GONE_TIMEOUT_S, Server, buyers_of, wait_for, when

from app.dispatcher import Dispatcher, QueueFull
from app.lifecycle import Status
from app.settings import Settings
from app.store import SimulationRow, Store
from workers import SimulationConfig

QUICK = {"think_ms": 0, "hold_ms": [0, 50]}
LONG = {"buyers": 5, "tickets": 1, "think_ms": 60_000, "hold_ms": 0}


def run_process(server: Server) -> psutil.Process:
    """The one run process: the server's child that has buyers."""
    return wait_for(
        lambda: next((p for p in psutil.Process(server.process.pid).children() if buyers_of(p)), None),
        60,
        "a run process with buyers",
    )


def test_dispatcher_full_queue_is_429(start_server: Callable[..., Server]) -> None:
    server = start_server(TICKETRUSH_MAX_RUNNING="1", TICKETRUSH_MAX_QUEUED="1")
    running = server.post(LONG)
    queued = server.post(LONG)

    refused = server.client.post("/simulations", json=LONG)

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "5"
    assert "TICKETRUSH_MAX_QUEUED=1" in refused.json()["detail"]
    assert server.get(queued["id"])["status"] == "queued"
    assert server.client.post(f"/simulations/{queued['id']}/cancel").json()["status"] == "cancelled"
    server.post(LONG)  # room again
    assert server.client.get("/simulations").json()["count"] == 3
    for sim in server.client.get("/simulations").json()["data"]:
        if sim["status"] not in ("cancelled",):
            assert server.client.post(f"/simulations/{sim['id']}/cancel").json()["status"] == "cancelled"
    assert server.get(running["id"])["status"] == "cancelled"
    wait_for(lambda: server.descendants() == [], GONE_TIMEOUT_S, "the run processes to be gone")


def test_dispatcher_runs_one_at_a_time_first_in_first_out(start_server: Callable[..., Server]) -> None:
    server = start_server(TICKETRUSH_MAX_RUNNING="1")
    ids = [server.post({"buyers": 3, "tickets": k, "lock": "file", **QUICK})["id"] for k in (1, 2, 3)]

    done = [server.wait_finished(i) for i in ids]

    assert [d["status"] for d in done] == ["completed"] * 3
    for earlier, later in itertools.pairwise(done):
        assert when(earlier["finished_at"]) <= when(later["started_at"])
    assert [d["result"]["tickets_sold"] for d in done] == [1, 2, 3]


def test_dispatcher_time_limit_fails_the_run_and_stops_its_processes(start_server: Callable[..., Server]) -> None:
    server = start_server(TICKETRUSH_RUN_TIMEOUT_S="2")
    created = server.post(LONG)

    simulation = server.wait_finished(created["id"])

    assert simulation["status"] == "failed"
    assert "time limit of 2 s" in simulation["error"]
    assert simulation["result"] is None
    wait_for(lambda: server.descendants() == [], 10, "the run's processes to be gone")


def test_dispatcher_killed_run_process_fails_the_run(start_server: Callable[..., Server]) -> None:
    server = start_server()
    created = server.post(LONG)
    server.wait_until(created["id"], lambda s: s["status"] == "running", 60, "running")
    runner = run_process(server)
    buyers = runner.children(recursive=True)  # its launcher and the buyers

    runner.send_signal(signal.SIGKILL)

    simulation = server.wait_finished(created["id"])
    assert simulation["status"] == "failed"
    assert simulation["error"] == "the run process was killed by signal 9 before finishing"
    psutil.wait_procs(buyers, timeout=10)
    assert not [b for b in buyers if b.is_running() and b.status() != psutil.STATUS_ZOMBIE]
    wait_for(lambda: server.descendants() == [], GONE_TIMEOUT_S, "the run processes to be gone")
    assert server.post({"buyers": 2, **QUICK})["status"] == "queued"  # the dispatcher carries on


def test_dispatcher_buyer_limits_name_the_setting(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_process_buyers=5, max_buyers=20)

    def refused(body: dict[str, Any]) -> str:
        response = client.post("/simulations", json=body)
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "buyers"]
        message: str = error["msg"]
        return message

    assert "TICKETRUSH_MAX_PROCESS_BUYERS" in refused({"buyers": 6})
    assert "at most 5 buyers" in refused({"buyers": 6, "executor": "process"})
    assert "TICKETRUSH_MAX_BUYERS" in refused({"buyers": 21, "executor": "pool"})
    accepted = client.post("/simulations", json={**LONG, "buyers": 6, "executor": "pool", "workers": 2})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["config"]["buyers"] == 6
    cancelled = client.post(f"/simulations/{accepted.json()['id']}/cancel")  # its buyers think for a minute
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


class StallingStore(Store):
    """A store on a disk that stalls: once `stall` is set, the dispatcher thread's next read waits for `resume`."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.stall = threading.Event()
        self.stalled = threading.Event()
        self.resume = threading.Event()

    def get(self, sim_id: str) -> SimulationRow | None:
        if self.stall.is_set() and threading.current_thread().name == "ticketrush-dispatcher":
            self.stalled.set()
            self.resume.wait(60)
        return super().get(sim_id)


def test_dispatcher_requests_never_wait_behind_its_store_io(tmp_path: Path, no_leftover_children: None) -> None:
    """While the dispatcher thread's store call hangs (settling a run that exited), submit and cancel answer."""
    store = StallingStore(tmp_path / "data")
    store.init()
    dispatcher = Dispatcher(store, Settings(data_dir=tmp_path / "data", max_running=1))
    dispatcher.start()
    answered = threading.Event()
    try:
        first = dispatcher.submit(SimulationConfig(buyers=1, think_ms=0, hold_ms=0))
        wait_for(lambda: (row := store.get(first.id)) and row.status != Status.QUEUED, 60, "the run to start")
        store.stall.set()  # the dispatcher's next read is the one that settles the run once its process exits
        assert store.stalled.wait(60), "the run never exited"

        def request() -> None:
            queued = dispatcher.submit(SimulationConfig(buyers=1, think_ms=0, hold_ms=0))
            dispatcher.cancel(queued.id)
            answered.set()

        asker = threading.Thread(target=request)
        asker.start()
        assert answered.wait(10), "a request waited for the dispatcher thread's store call"
    finally:
        store.resume.set()
        dispatcher.close()
    asker.join(10)
    assert [row.status for row in store.page(0, 10)[0]] == [Status.CANCELLED, Status.COMPLETED]


def test_dispatcher_a_run_being_started_keeps_its_place(tmp_path: Path, no_leftover_children: None) -> None:
    """Between leaving the queue and its process starting, a run still counts: the room is not given twice."""
    store = StallingStore(tmp_path / "data")
    store.init()
    dispatcher = Dispatcher(store, Settings(data_dir=tmp_path / "data", max_running=1, max_queued=0))
    store.stall.set()  # the dispatcher's first read is the one that starts the run
    dispatcher.start()
    try:
        first = dispatcher.submit(SimulationConfig(buyers=1, think_ms=0, hold_ms=0))
        assert store.stalled.wait(60), "the dispatcher never took the run from the queue"
        with pytest.raises(QueueFull):
            dispatcher.submit(SimulationConfig(buyers=1, think_ms=0, hold_ms=0))
    finally:
        store.resume.set()
        dispatcher.close()
    assert [row.id for row in store.page(0, 10)[0]] == [first.id]

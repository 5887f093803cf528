"""The run process that waits ahead of need (app.standby), on a real server: a POST is handed to it, a new one
takes its place, one that dies is replaced, and none outlives the server."""

from __future__ import annotations

import signal
from collections.abc import Callable

import psutil
from live_server import GONE_TIMEOUT_S, Server, wait_for

from app.standby import WAITING_NAME

QUICK = {"buyers": 3, "tickets": 1, "lock": "file", "think_ms": 0, "hold_ms": 0}
LONG = {"buyers": 3, "tickets": 1, "think_ms": 60_000, "hold_ms": 0}


def waiting(server: Server, other_than: int | None = None) -> psutil.Process:
    """The server's run process that waits for a run, once it is ready (named, its launcher started)."""

    def ready() -> psutil.Process | None:
        for child in psutil.Process(server.process.pid).children():
            try:
                if child.pid != other_than and child.name() == WAITING_NAME and child.children():
                    return child
            except psutil.Error:
                continue
        return None

    found: psutil.Process = wait_for(ready, 60, "a run process waiting for a run")
    return found


def test_standby_a_posted_run_is_run_by_the_process_that_waited_and_another_takes_its_place(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    before = waiting(server)
    launcher = before.children()[0]

    sim = server.post(LONG)

    running = wait_for(server.run_processes, 30, "the simulation's run process")
    assert [p.pid for p in running] == [before.pid]
    wait_for(lambda: launcher.children(), 30, "the waiting launcher to fork the buyers")  # the run's own launcher
    waiting(server, other_than=before.pid)
    server.client.post(f"/simulations/{sim['id']}/cancel")
    wait_for(lambda: not before.is_running(), GONE_TIMEOUT_S, "the cancelled run's process to end")
    finished = server.wait_finished(server.post(QUICK)["id"])
    assert finished["status"] == "completed"
    assert finished["result"]["tickets_sold"] == 1


def test_standby_a_waiting_process_that_dies_is_replaced_and_runs_still_complete(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    dead = waiting(server)
    dead.send_signal(signal.SIGKILL)

    waiting(server, other_than=dead.pid)
    finished = server.wait_finished(server.post(QUICK)["id"])

    assert finished["status"] == "completed"
    assert finished["result"]["oversold"] == 0


def test_standby_the_waiting_process_and_its_launcher_die_with_a_killed_server(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    process = waiting(server)
    launcher = process.children()[0]

    server.kill()

    _, alive = psutil.wait_procs([process, launcher], timeout=GONE_TIMEOUT_S)
    assert alive == []

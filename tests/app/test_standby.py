"""The run processes that wait ahead of need (app.standby), on a real server: a POST is handed to one, a new one
takes its place, two runs posted together are each handed one, one that dies is replaced, and none outlives the
server."""

from __future__ import annotations

import signal
from collections.abc import Callable, Collection

import psutil
from live_server import GONE_TIMEOUT_S, Server, wait_for

from app.standby import WAITING_NAME

QUICK = {"buyers": 3, "tickets": 1, "lock": "file", "think_ms": 0, "hold_ms": 0}
LONG = {"buyers": 3, "tickets": 1, "think_ms": 60_000, "hold_ms": 0}


def all_waiting(server: Server, other_than: Collection[int] = (), count: int = 1) -> list[psutil.Process]:
    """The server's run processes that wait for a run, once `count` are ready (named, their launcher started)."""

    def ready() -> list[psutil.Process] | None:
        found = []
        for child in psutil.Process(server.process.pid).children():
            try:
                if child.pid not in other_than and child.name() == WAITING_NAME and child.children():
                    found.append(child)
            except psutil.Error:
                continue
        return found if len(found) >= count else None

    found: list[psutil.Process] = wait_for(ready, 60, f"{count} run process(es) waiting for a run")
    return found


def waiting(server: Server, other_than: Collection[int] = ()) -> psutil.Process:
    """One of the server's run processes that wait for a run, once it is ready."""
    return all_waiting(server, other_than)[0]


def test_standby_a_posted_run_is_run_by_a_process_that_waited_and_another_takes_its_place(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    before = waiting(server)
    launcher = before.children()[0]

    sim = server.post(LONG)

    running = wait_for(server.run_processes, 30, "the simulation's run process")
    assert [p.pid for p in running] == [before.pid]
    wait_for(lambda: launcher.children(), 30, "the waiting launcher to fork the buyers")  # the run's own launcher
    waiting(server, other_than={before.pid})
    server.client.post(f"/simulations/{sim['id']}/cancel")
    wait_for(lambda: not before.is_running(), GONE_TIMEOUT_S, "the cancelled run's process to end")
    finished = server.wait_finished(server.post(QUICK)["id"])
    assert finished["status"] == "completed"
    assert finished["result"]["tickets_sold"] == 1


def test_standby_two_runs_posted_together_are_both_run_by_processes_that_waited(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(TICKETRUSH_STANDBY="2")
    before = {p.pid for p in all_waiting(server, count=2)}

    sims = [server.post(LONG), server.post(LONG)]

    running = wait_for(lambda: (found := server.run_processes()) and len(found) == 2 and found, 30, "two runs")
    assert {p.pid for p in running} == before
    assert len(all_waiting(server, other_than=before, count=2)) == 2  # both replaced
    for sim in sims:
        server.client.post(f"/simulations/{sim['id']}/cancel")
    finished = server.wait_finished(server.post(QUICK)["id"])
    assert finished["status"] == "completed"


def test_standby_a_waiting_process_that_dies_is_replaced_and_runs_still_complete(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(TICKETRUSH_STANDBY="2")
    dead = all_waiting(server, count=2)[0]
    dead.send_signal(signal.SIGKILL)

    all_waiting(server, other_than={dead.pid}, count=2)  # the one left, and the one in place of the dead
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

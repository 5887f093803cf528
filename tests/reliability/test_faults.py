"""Faults during a run, through a real server: buyers killed inside their critical window under each lock, the
run process killed, the server killed with SIGKILL again and again.

The engine-level versions of the buyer kills are in tests/workers/test_coordinator.py; here the simulation goes
through the API, the run process and the store, and what a user sees (GET /simulations/{id} and its buyers)
must tell the truth about it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from live_server import GONE_TIMEOUT_S, TERMINAL, Server, buyers_of, wait_for

pytestmark = pytest.mark.slow


def buyer_processes(server: Server) -> list[psutil.Process]:
    """The buyers of every run process."""
    return [buyer for run in server.run_processes() for buyer in buyers_of(run)]


def _wchan(process: psutil.Process) -> str:
    try:
        return Path(f"/proc/{process.pid}/wchan").read_text()
    except OSError:
        return ""


def _flock_holders(lock_path: Path) -> set[int]:
    """Pids holding an flock on `lock_path`, from the kernel's lock table (waiters are listed with '->')."""
    try:
        inode = lock_path.stat().st_ino
    except FileNotFoundError:
        return set()
    return {
        int(fields[4])
        for fields in (line.split() for line in Path("/proc/locks").read_text().splitlines())
        if fields[1] == "FLOCK" and fields[5].endswith(f":{inode}")
    }


def in_critical_window(server: Server, run_dir: Path, lock: str) -> list[psutil.Process]:
    """Buyers between their read and their write right now. With think_ms 0 the only sleep a buyer takes is
    its hold (the critical window), so a buyer asleep in nanosleep is inside it; under the file lock it must
    also hold the flock."""
    sleeping = [b for b in buyer_processes(server) if _wchan(b) == "hrtimer_nanosleep"]
    if lock == "file":
        holders = _flock_holders(run_dir / "db.json.lock")
        return [b for b in sleeping if b.pid in holders]
    return sleeping


def kill_in_critical_window(server: Server, sim_id: str, lock: str, count: int, rng: random.Random) -> list[int]:
    """SIGKILL `count` buyers picked at random among those inside their critical window, one at a time."""
    run_dir = server.data_dir / "runs" / sim_id
    killed: list[int] = []
    while len(killed) < count:
        victims = wait_for(
            lambda: [b for b in in_critical_window(server, run_dir, lock) if b.pid not in killed],
            60,
            f"a buyer inside its critical window under lock {lock!r}",
            interval=0.01,
        )
        victim = rng.choice(victims)
        os.kill(victim.pid, signal.SIGKILL)
        killed.append(victim.pid)
    return killed


def db_count(run_dir: Path) -> int:
    """The ticket db as a user would read it: whole JSON, {"count": n}. (Temporary files of writers killed
    with their run may stay beside it; the db itself is never one of them.)"""
    data = json.loads((run_dir / "db.json").read_text())
    assert set(data) == {"count"}, data
    count: int = data["count"]
    return count


BUYER_KILLS = {
    # lock: (config, buyers killed): no lock, every buyer is in its window at once; under the file lock the
    # kernel frees a dead holder's lock; a dead holder of the process lock keeps it forever, so one is enough
    # and the rest give up after lock_timeout_s.
    "none": ({"buyers": 12, "tickets": 6, "hold_ms": [400, 500]}, 3),
    "file": ({"buyers": 12, "tickets": 6, "hold_ms": [200, 300]}, 3),
    "process": ({"buyers": 8, "tickets": 4, "hold_ms": [200, 300], "lock_timeout_s": 2}, 1),
}


@pytest.mark.parametrize("lock", list(BUYER_KILLS))
def test_faults_buyers_killed_mid_critical_section(start_server: Callable[..., Server], lock: str) -> None:
    config, kills = BUYER_KILLS[lock]
    server = start_server()
    sim = server.post({**config, "lock": lock, "think_ms": 0, "seed": 7})

    killed = kill_in_critical_window(server, sim["id"], lock, kills, random.Random(lock))
    simulation = server.wait_finished(sim["id"], timeout=60)

    assert simulation["status"] == "completed", simulation
    result = simulation["result"]
    run_dir = server.data_dir / "runs" / sim["id"]
    assert db_count(run_dir) == result["tickets_remaining"]
    assert not list(run_dir.glob("db.json.*.tmp"))  # the run lived on and cleared its dead writers' files
    buyers = server.client.get(f"/simulations/{sim['id']}/buyers").json()
    assert buyers["count"] == config["buyers"]
    dead = [b for b in buyers["data"] if b["pid"] in killed]
    assert len(dead) == kills
    assert all(b["outcome"] == "error" and "killed by signal 9" in b["error"] for b in dead), dead
    assert result["buyers_errored"] >= kills
    if lock != "none":
        assert result["oversold"] == 0 and result["lost_updates"] == 0 and result["safe"]
        assert result["tickets_sold"] == result["buyers_succeeded"]
    if lock == "file":  # the kernel gave the dead holders' lock to the next buyer
        assert result["buyers_errored"] == kills
        assert result["buyers_succeeded"] == config["tickets"] and result["tickets_remaining"] == 0
    if lock == "process":  # everyone after the dead holder waited out the lock timeout
        errors = [b["error"] for b in buyers["data"] if b["outcome"] == "gave_up" and b["pid"] not in killed]
        assert errors and all("gave up after waiting 2 s for the process lock" in e for e in errors)
    wait_for(lambda: server.descendants() == [], 15, "the run's processes to be gone")


def test_faults_run_process_killed_mid_critical_section(start_server: Callable[..., Server]) -> None:
    server = start_server(TICKETRUSH_MAX_RUNNING="1")
    victim = server.post({"buyers": 10, "tickets": 5, "lock": "file", "think_ms": 0, "hold_ms": [300, 400]})
    follower = server.post({"buyers": 5, "tickets": 2, "lock": "file", "think_ms": 0, "hold_ms": [0, 20]})
    run_dir = server.data_dir / "runs" / victim["id"]
    wait_for(lambda: in_critical_window(server, run_dir, "file"), 60, "a buyer inside its critical window")
    (runner,) = server.run_processes()
    buyers = runner.children(recursive=True)  # its launcher and the buyers

    runner.send_signal(signal.SIGKILL)

    simulation = server.wait_finished(victim["id"])
    assert simulation["status"] == "failed"
    assert simulation["error"] == "the run process was killed by signal 9 before finishing"
    assert simulation["result"] is None
    _, alive = psutil.wait_procs(buyers, timeout=10)  # they die with their parent (PR_SET_PDEATHSIG)
    assert not [b for b in alive if b.status() != psutil.STATUS_ZOMBIE]
    assert 0 <= db_count(run_dir) <= 5
    assert server.client.get(f"/simulations/{victim['id']}/buyers").json()["count"] == 0
    after = server.wait_finished(follower["id"])  # the dispatcher carries on with the queue
    assert after["status"] == "completed" and after["result"]["safe"]
    wait_for(lambda: server.descendants() == [], GONE_TIMEOUT_S, "the run processes to be gone")


def _integrity(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "ticketrush.sqlite3") as db:
        (answer,) = db.execute("PRAGMA integrity_check").fetchone()
    return str(answer)


KILL_CYCLES = 5


def test_faults_server_killed_again_and_again_loses_no_finished_result(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Kill -9 the server at a different moment of a run each time (while buyers race, while the finished run
    is being saved); after every restart each simulation is finished, every completed one exactly as it was
    read before the kill, with all its buyers, and the store is sound."""
    rng = random.Random(2024)
    data_dir = tmp_path / "data"
    completed: dict[str, dict[str, Any]] = {}
    for _ in range(KILL_CYCLES):
        server = start_server(data_dir=data_dir, TICKETRUSH_MAX_RUNNING="2")
        for sim_id, before in completed.items():
            assert server.get(sim_id) == before
            assert server.client.get(f"/simulations/{sim_id}/buyers").json()["count"] == before["config"]["buyers"]
        for summary in server.client.get("/simulations", params={"limit": 1000}).json()["data"]:
            assert summary["status"] in TERMINAL, summary
        assert _integrity(data_dir) == "ok"

        quick = server.post({"buyers": 5, "tickets": 2, "lock": "file", "think_ms": 0, "hold_ms": [0, 20]})
        size = rng.choice([200, 2000, 20000])
        racing = server.post({"buyers": size, "tickets": size // 4, "lock": "file", "executor": "pool", "workers": 2,
                              "think_ms": 0, "hold_ms": 0})  # fmt: skip
        server.post({"buyers": 3, "tickets": 1, "lock": "file", "think_ms": 0, "hold_ms": 0})  # queued behind
        done = server.wait_finished(quick["id"])
        assert done["status"] == "completed", done
        completed[quick["id"]] = done
        threshold = rng.uniform(0.0, 1.0) * size
        server.wait_until(
            racing["id"],
            lambda s, t=threshold: s["status"] in TERMINAL or s["progress"]["finished"] >= t,  # type: ignore[misc]
            120,
            f"past {threshold:.0f} buyers",
        )

        server.kill()

        server.assert_nothing_left()
        for run_dir in (data_dir / "runs").iterdir():
            if (run_dir / "db.json").exists():
                db_count(run_dir)

    last = start_server(data_dir=data_dir)
    everything = last.client.get("/simulations", params={"limit": 1000}).json()
    assert everything["count"] == 3 * KILL_CYCLES
    statuses = [s["status"] for s in everything["data"]]
    assert set(statuses) <= {"completed", "interrupted"}, statuses
    for sim in everything["data"]:
        if sim["status"] == "interrupted":
            assert sim["error"].startswith("the server stopped while this simulation was"), sim
            assert sim["result"] is None
        else:
            assert sim["result"]["safe"] and sim["progress"]["finished"] == sim["config"]["buyers"], sim
            assert last.client.get(f"/simulations/{sim['id']}/buyers").json()["count"] == sim["config"]["buyers"]
    for sim_id, before in completed.items():
        assert last.get(sim_id) == before

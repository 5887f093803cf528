"""The run process on its own: SIGTERM cancels and reaps every buyer; a run cancelled before it starts does
not run; a run and its buyers give way to the API.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import psutil
import pytest
from live_server import buyers_of, wait_for

from app.buyer_files import SAVE_ASIDE_FROM
from app.lifecycle import Status
from app.runner import GROUP_NICENESS, RUN_NICENESS, execute
from app.store import Store
from workers import SimulationConfig


def start(store: Store, config: SimulationConfig) -> tuple[str, multiprocessing.process.BaseProcess]:
    row = store.create(config.resolved())
    process = multiprocessing.get_context("spawn").Process(
        target=execute, args=(row.id, row.config.model_dump_json(), str(store.data_dir), 60.0, os.getpid())
    )
    return row.id, process


def test_runner_sigterm_cancels_and_reaps_every_buyer(tmp_path: Path, no_leftover_children: None) -> None:
    store = Store(tmp_path / "data")
    store.init()
    sim_id, process = start(store, SimulationConfig(buyers=20, think_ms=60_000, hold_ms=0))
    process.start()
    runner = psutil.Process(process.pid)
    buyers = wait_for(lambda: len(buyers_of(runner)) == 20 and buyers_of(runner), 60, "20 buyer processes")

    os.kill(process.pid, signal.SIGTERM)
    process.join(30)

    assert process.exitcode == 0
    row = store.get(sim_id)
    assert row is not None and row.status == Status.CANCELLED and row.result is None
    assert not [b for b in buyers if b.is_running() and b.status() != psutil.STATUS_ZOMBIE]


def test_runner_cancelled_before_it_starts_does_not_run(tmp_path: Path, no_leftover_children: None) -> None:
    store = Store(tmp_path / "data")
    store.init()
    sim_id, process = start(store, SimulationConfig(buyers=3))
    store.transition(sim_id, Status.CANCELLED)

    process.start()
    process.join(30)

    assert process.exitcode == 0
    row = store.get(sim_id)
    assert row is not None and row.status == Status.CANCELLED and row.started_at is None
    assert not store.folders.path(sim_id).exists()


def test_runner_saves_every_record_of_a_big_run_before_it_says_completed(
    tmp_path: Path, no_leftover_children: None
) -> None:
    store = Store(tmp_path / "data")
    store.init()
    buyers = 2 * SAVE_ASIDE_FROM  # saved by a child while the run process analyses them
    sim_id, process = start(
        store, SimulationConfig(buyers=buyers, tickets=100, lock="file", executor="pool", think_ms=0, hold_ms=0)
    )
    process.start()
    process.join(120)

    assert process.exitcode == 0
    row = store.get(sim_id)
    assert row is not None and row.status == Status.COMPLETED and row.result is not None
    saved = [r for chunk in store.buyer_files.chunks(sim_id) for r in chunk]
    assert [r.buyer for r in saved] == list(range(1, buyers + 1))
    assert sum(r.outcome == "success" for r in saved) == row.result.buyers_succeeded == 100
    assert sorted(p.name for p in store.folders.path(sim_id).iterdir()) == ["buyers.sqlite3", "db.json", "db.json.lock"]


AUTOGROUPS = Path("/proc/sys/kernel/sched_autogroup_enabled")


def started_with_buyers(
    tmp_path: Path, buyers: int
) -> tuple[multiprocessing.process.BaseProcess, list[psutil.Process]]:
    """A run process whose `buyers` buyers think for a minute; stopped by the caller."""
    store = Store(tmp_path / "data")
    store.init()
    _, process = start(store, SimulationConfig(buyers=buyers, think_ms=60_000, hold_ms=0))
    process.start()
    runner = psutil.Process(process.pid)
    found = wait_for(lambda: len(buyers_of(runner)) == buyers and buyers_of(runner), 60, f"{buyers} buyer processes")
    return process, found


def stop(process: multiprocessing.process.BaseProcess) -> None:
    os.kill(process.pid, signal.SIGTERM)
    process.join(30)
    assert process.exitcode == 0


def test_run_and_its_buyers_are_niced_in_a_session_of_their_own(tmp_path: Path, no_leftover_children: None) -> None:
    process, buyers = started_with_buyers(tmp_path, 5)
    try:
        for p in [psutil.Process(process.pid), *buyers]:
            assert p.nice() == RUN_NICENESS
            assert os.getsid(p.pid) == process.pid != os.getsid(0)  # one session, not the server's
    finally:
        stop(process)


@pytest.mark.skipif(
    not (AUTOGROUPS.exists() and AUTOGROUPS.read_text().strip() == "1"),
    reason="this kernel shares the CPU without scheduler autogroups (kernel.sched_autogroup_enabled is not 1): "
    "only the per-process nice applies",
)
def test_run_and_its_buyers_yield_the_cpu_as_one_niced_autogroup(tmp_path: Path, no_leftover_children: None) -> None:
    process, buyers = started_with_buyers(tmp_path, 5)
    try:
        group = Path(f"/proc/{process.pid}/autogroup").read_text()
        assert group.split()[-1] == str(GROUP_NICENESS)
        assert group != Path("/proc/self/autogroup").read_text()  # not the test's (the server's) group
        assert {Path(f"/proc/{b.pid}/autogroup").read_text() for b in buyers} == {group}
    finally:
        stop(process)

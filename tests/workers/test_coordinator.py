"""The engine end to end: real buyer processes racing for a real db file."""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from workers import RunCancelled, RunReport, RunTimedOut, SimulationConfig, run_simulation

FAST = {"think_ms": 0, "hold_ms": 0}


def run(run_dir: Path, **fields: object) -> RunReport:
    return run_simulation(SimulationConfig.model_validate(fields), run_dir)


@pytest.mark.parametrize("attempt", range(5))
def test_rush_without_a_lock_oversells_every_time(run_dir: Path, attempt: int) -> None:
    report = run(run_dir, buyers=10, tickets=1, lock="none")
    result = report.result
    assert result.oversold >= 1
    assert result.tickets_remaining == 0 and result.tickets_sold == 1
    assert result.lost_updates == result.buyers_succeeded - 1
    assert result.max_in_critical >= 2
    assert not result.safe
    assert f"count=1 before buyer {result.conflicts[0].first_writer} wrote 0" in result.explanation


@pytest.mark.parametrize("lock", ["process", "file"])
def test_rush_with_a_lock_sells_the_one_ticket_once(run_dir: Path, lock: str) -> None:
    result = run(run_dir, buyers=10, tickets=1, lock=lock).result
    assert (result.buyers_succeeded, result.buyers_sold_out, result.buyers_errored) == (1, 9, 0)
    assert result.tickets_remaining == 0
    assert result.max_in_critical == 1
    assert result.safe and result.oversold == 0 and result.lost_updates == 0
    assert result.lock_wait_max_ms >= 100  # the others queued behind a hold of at least 100 ms


def test_rush_records_every_step_of_every_buyer(run_dir: Path) -> None:
    report = run(run_dir, buyers=4, tickets=2, lock="file", seed=5, think_ms=[5, 10], hold_ms=[5, 10])
    assert [r.buyer for r in report.records] == [1, 2, 3, 4]
    assert len({r.pid for r in report.records}) == 4  # one process per buyer
    for r in report.records:
        assert r.outcome in ("success", "sold_out")
        assert r.t_start <= r.t_searched <= r.t_lock_acquired <= r.t_read <= r.t_end  # type: ignore[operator]
        if r.outcome == "success":
            assert r.wrote == r.read - 1  # type: ignore[operator]
    assert report.config.seed == 5
    assert json.loads((run_dir / "db.json").read_text()) == {"count": 0}


def test_a_runs_setup_is_its_start_to_the_buyers_release_and_comes_before_the_race(run_dir: Path) -> None:
    begun = time.monotonic_ns()
    report = run(run_dir, buyers=40, tickets=4, lock="file", **FAST)
    ended = time.monotonic_ns()
    result = report.result
    first_start = min(r.t_start for r in report.records if r.t_start is not None)
    assert result.setup_ms > 0 and result.setup_ms + result.duration_ms <= (ended - begun) / 1e6
    assert (first_start - begun) / 1e6 >= result.setup_ms  # no buyer starts before the release


@pytest.mark.slow
def test_rush_of_1000_buyers_under_the_file_lock_is_exact(run_dir: Path) -> None:
    result = run(run_dir, buyers=1000, tickets=100, lock="file", **FAST).result
    assert result.buyers_errored == 0
    assert (result.buyers_succeeded, result.buyers_sold_out, result.tickets_remaining) == (100, 900, 0)
    assert result.safe


@pytest.mark.slow
def test_flash_sale_of_100000_buyers_in_a_pool_is_exact(run_dir: Path) -> None:
    result = run(run_dir, buyers=100_000, tickets=10_000, lock="file", executor="pool", **FAST).result
    assert (result.buyers_succeeded, result.buyers_sold_out, result.buyers_errored) == (10_000, 90_000, 0)
    assert result.tickets_remaining == 0 and result.safe


def _in_critical_window(lock: str, lock_path: Path) -> list[psutil.Process]:
    """Buyer processes between their read and their write right now (think_ms must be 0)."""
    buyers = psutil.Process().children(recursive=True)  # the launcher and its buyers
    if lock == "file":  # the holder of the flock, from the kernel's lock table
        inode = lock_path.stat().st_ino if lock_path.exists() else None
        holders = {
            int(fields[4])
            for fields in (line.split() for line in Path("/proc/locks").read_text().splitlines())
            if fields[1] == "FLOCK" and inode is not None and fields[5].endswith(f":{inode}")
        }
        return [b for b in buyers if b.pid in holders]
    # no think time, so a buyer asleep is holding its ticket; waiters for the process lock sit in futex_wait
    return [b for b in buyers if Path(f"/proc/{b.pid}/wchan").read_text() == "hrtimer_nanosleep"]


class KillInCriticalWindow:
    """A should_stop hook: SIGKILL `count` buyers caught inside their critical window, `per_call` at a time."""

    def __init__(self, lock: str, run_dir: Path, count: int = 1, spacing_s: float = 0.3, per_call: int = 1) -> None:
        self.lock = lock
        self.per_call = per_call
        self.lock_path = run_dir / "db.json.lock"
        self.count = count
        self.spacing_s = spacing_s
        self.next_kill = time.monotonic() + spacing_s
        self.killed: list[int] = []

    def __call__(self) -> bool:
        if len(self.killed) < self.count and time.monotonic() >= self.next_kill:
            victims = _in_critical_window(self.lock, self.lock_path)
            for victim in victims[: min(self.per_call, self.count - len(self.killed))]:
                os.kill(victim.pid, signal.SIGKILL)
                self.killed.append(victim.pid)
            if victims:
                self.next_kill = time.monotonic() + self.spacing_s
        return False


def _reported_killed(report: RunReport, pids: list[int]) -> list[str]:
    return [r.error or "" for r in report.records if r.pid in pids]


@pytest.mark.parametrize("lock", ["none", "file"])
def test_killing_buyers_mid_critical_window_keeps_the_db_whole(run_dir: Path, lock: str) -> None:
    # without a lock every buyer is in its window at once; under the file lock they come one by one
    killer = KillInCriticalWindow(lock, run_dir, count=3, spacing_s=0.1, per_call=3 if lock == "none" else 1)
    config = SimulationConfig.model_validate(
        {"buyers": 24, "tickets": 8, "lock": lock, "think_ms": 0, "hold_ms": [300, 400], "seed": 1}
    )
    report = run_simulation(config, run_dir, should_stop=killer)
    result = report.result
    assert len(killer.killed) == 3
    errors = _reported_killed(report, killer.killed)
    assert len(errors) == 3 and all("killed by signal 9" in e for e in errors)
    assert result.buyers_errored == 3
    assert json.loads((run_dir / "db.json").read_text()) == {"count": result.tickets_remaining}
    assert not list(run_dir.glob("*.tmp"))
    if lock == "file":
        assert result.safe and result.buyers_succeeded == 8 and result.tickets_remaining == 0


def test_killing_the_file_lock_holder_does_not_hang_or_oversell(run_dir: Path) -> None:
    killer = KillInCriticalWindow("file", run_dir)
    config = SimulationConfig(buyers=6, tickets=2, lock="file", think_ms=0, hold_ms=1500, lock_timeout_s=20)
    report = run_simulation(config, run_dir, should_stop=killer)
    result = report.result
    assert len(killer.killed) == 1
    dead = [r for r in report.records if r.pid in killer.killed]
    assert [r.outcome for r in dead] == ["error"] and "killed by signal 9" in (dead[0].error or "")
    assert json.loads((run_dir / "db.json").read_text()) == {"count": result.tickets_remaining}
    assert result.oversold == 0 and result.lost_updates == 0
    assert result.buyers_succeeded == 2 and result.buyers_errored == 1  # the kernel freed the lock for the rest
    assert result.buyers_succeeded + result.buyers_sold_out + result.buyers_errored == 6


def test_killing_the_process_lock_holder_ends_the_run_within_the_lock_timeout(run_dir: Path) -> None:
    killer = KillInCriticalWindow("process", run_dir)
    config = SimulationConfig(buyers=5, tickets=1, lock="process", think_ms=0, hold_ms=30_000, lock_timeout_s=2)
    started = time.monotonic()
    report = run_simulation(config, run_dir, should_stop=killer)
    assert time.monotonic() - started < 10  # not the 30 s hold, nor forever
    assert len(killer.killed) == 1
    errors = [r.error or "" for r in report.records]
    assert sorted(r.outcome for r in report.records) == ["error"] + ["gave_up"] * 4
    assert sum("killed by signal 9" in e for e in errors) == 1
    assert sum("gave up after waiting 2 s for the process lock" in e for e in errors) == 4
    assert report.result.buyers_gave_up == 4 and report.result.buyers_errored == 1
    assert report.result.tickets_remaining == 1 and report.result.oversold == 0


def test_cancelled_run_stops_and_reaps_every_buyer(run_dir: Path) -> None:
    config = SimulationConfig(buyers=50, tickets=5, lock="process", think_ms=0, hold_ms=500)
    started = time.monotonic()
    with pytest.raises(RunCancelled):
        run_simulation(config, run_dir, should_stop=lambda: time.monotonic() - started > 0.5)
    assert time.monotonic() - started < 10


def test_run_past_its_time_limit_fails_and_reaps_every_buyer(run_dir: Path) -> None:
    config = SimulationConfig(buyers=20, tickets=20, lock="file", think_ms=0, hold_ms=300)
    started = time.monotonic()
    with pytest.raises(RunTimedOut, match="time limit of 1 s"):
        run_simulation(config, run_dir, time_limit_s=1)
    assert time.monotonic() - started < 6


def test_progress_is_reported_while_the_run_goes(run_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    config = SimulationConfig(buyers=8, tickets=8, lock="process", think_ms=0, hold_ms=60)
    run_simulation(config, run_dir, on_progress=lambda finished, total: seen.append((finished, total)))
    finished = [f for f, _ in seen]
    assert seen[-1] == (8, 8)
    assert finished == sorted(finished)
    assert any(0 < f < 8 for f in finished)  # observed mid-run, not only at the end


@pytest.mark.parametrize("enabled", [True, False])
def test_run_pauses_the_garbage_collector_only_when_asked_and_restores_it(run_dir: Path, enabled: bool) -> None:
    during: list[bool] = []
    asked: list[bool] = []
    (gc.enable if enabled else gc.disable)()
    try:
        config = SimulationConfig(buyers=4, tickets=2, lock="file", **FAST)
        run_simulation(config, run_dir / "1", on_progress=lambda finished, total: during.append(gc.isenabled()))
        assert gc.isenabled() is enabled
        run_simulation(
            config,
            run_dir / "2",
            on_progress=lambda finished, total: asked.append(gc.isenabled()),
            pause_collector=True,
        )
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert during and all(d is enabled for d in during)  # a library call leaves the caller's collector alone
    assert asked and not any(asked)


def test_pool_runs_many_buyers_per_process(run_dir: Path) -> None:
    report = run(run_dir, buyers=200, tickets=50, lock="process", executor="pool", workers=2, **FAST)
    assert len({r.pid for r in report.records}) == 2
    assert report.config.workers == 2
    assert report.result.buyers_succeeded == 50 and report.result.safe


def test_staggered_start_still_counts_every_buyer(run_dir: Path) -> None:
    result = run(run_dir, buyers=5, tickets=3, lock="file", together=False, **FAST).result
    assert result.buyers_succeeded == 3 and result.buyers_sold_out == 2


@pytest.mark.parametrize("lock", ["none", "file"])
def test_a_run_leaves_only_its_db_and_lock_file(run_dir: Path, lock: str) -> None:
    config = SimulationConfig(buyers=8, tickets=3, lock=lock, think_ms=0, hold_ms=0)
    run_simulation(config, run_dir)
    expected = ["db.json", "db.json.lock"] if lock == "file" else ["db.json"]
    assert sorted(p.name for p in run_dir.iterdir()) == expected

"""The SQLite store: the race in an embedded database, and its own cures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workers.stores.witnessed import check_lost_update, check_write_lock_waits
from workers import BuyerRecord, SimulationConfig, run_simulation
from workers.stores.sqlite import DB_NAME
from workers.support import cures

# 10 buyers released together, each holding the read-to-write window for 400 ms: every buyer reads before any
# writes unless something stops it (released buyers were seen taking up to 150 ms to start on a loaded machine).
LESSON = {"buyers": 10, "tickets": 1, "think_ms": 0, "hold_ms": 400, "store": "sqlite"}
SAFE = [c for c in cures("sqlite") if c.strategy != "read-write" or c.lock not in ("none", "semaphore")]


def longest_wait_ms(records: list[BuyerRecord]) -> float:
    """The longest a buyer waited for the store's write lock (BEGIN IMMEDIATE), from its record."""
    return max((r.t_lock_acquired - r.t_lock_requested) / 1e6 for r in records if r.t_lock_acquired is not None)


def _count_in_db(run_dir: Path) -> int:
    db = sqlite3.connect(run_dir / DB_NAME)
    try:
        return int(db.execute("SELECT count FROM tickets").fetchone()[0])
    finally:
        db.close()


def test_sqlite_read_write_without_a_lock_loses_updates_and_oversells(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**LESSON), run_dir)
    result = report.result
    assert (result.tickets_handed_out, result.oversold, result.lost_updates) == (10, 9, 9)
    assert result.max_in_critical == 10
    assert result.tickets_remaining == _count_in_db(run_dir) == 0  # every buyer wrote 0 over the same 1
    check_lost_update("sqlite", result, report.records)  # "Lost updates in SQLite: ... (autocommit) ..."
    assert "1 ticket left the SQLite table tickets in tickets.sqlite3 and 0 remain" in result.explanation


def test_sqlite_for_update_holds_the_write_lock_from_the_read_to_the_commit(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="for-update"), run_dir)
    result = report.result
    assert (result.tickets_handed_out, result.buyers_sold_out, result.oversold) == (1, 9, 0)
    assert result.max_in_critical == 1
    assert longest_wait_ms(report.records) >= 300  # the first in line waited for the one who held 400 ms


def test_sqlite_for_update_counts_the_wait_for_the_write_lock_as_a_lock_wait(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**{**LESSON, "hold_ms": 100}, strategy="for-update"), run_dir)
    assert (report.result.buyers_succeeded, report.result.buyers_sold_out) == (1, 9)
    check_write_lock_waits(report.result, report.records, "SQLite write lock", hold_ms=100)


def test_sqlite_for_update_buyer_gives_up_when_the_write_lock_outlasts_its_wait(run_dir: Path) -> None:
    config = SimulationConfig(
        **{**LESSON, "buyers": 3, "tickets": 3, "hold_ms": 1000}, strategy="for-update", lock_timeout_s=0.1
    )
    report = run_simulation(config, run_dir)
    assert sorted(r.outcome for r in report.records) == ["gave_up", "gave_up", "success"]
    assert {r.error for r in report.records if r.outcome == "gave_up"} == {
        "gave up after waiting 0.1 s for the SQLite write lock"
    }
    assert report.result.tickets_remaining == _count_in_db(run_dir) == 2
    assert report.result.verdict == "No seat sold twice, but 2 of 3 buyers gave up waiting for the SQLite write lock"


def test_sqlite_optimistic_retries_on_the_version_column(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="optimistic"), run_dir)
    assert (report.result.tickets_handed_out, report.result.oversold) == (1, 0)
    assert sum(r.retries or 0 for r in report.records) >= 9  # every loser's first write was refused
    assert _count_in_db(run_dir) == 0


def test_sqlite_atomic_takes_a_ticket_per_buyer_in_one_statement(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**{**LESSON, "tickets": 4}, strategy="atomic"), run_dir)
    sales = sorted((r.read, r.wrote) for r in report.records if r.outcome == "success")
    assert sales == [(1, 0), (2, 1), (3, 2), (4, 3)]  # each sale took the count from one value to the next
    assert report.result.buyers_sold_out == 6 and _count_in_db(run_dir) == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    buyers=st.integers(1, 12),
    tickets=st.integers(0, 14),
    cure=st.sampled_from(SAFE),
    executor=st.sampled_from(["process", "pool"]),
    workers=st.integers(1, 3),
    seed=st.integers(0, 2**32),
)
def test_every_sqlite_cure_sells_exactly_what_exists(
    tmp_path: Path, buyers: int, tickets: int, cure: object, executor: str, workers: int, seed: int
) -> None:
    strategy, lock = cure  # type: ignore[misc]
    config = SimulationConfig.model_validate(
        {
            "buyers": buyers,
            "tickets": tickets,
            "store": "sqlite",
            "strategy": strategy,
            "lock": lock,
            "executor": executor,
            "workers": workers if executor == "pool" else None,
            "think_ms": [0, 2],
            "hold_ms": [0, 2],
            "seed": seed,
        }
    )
    run_dir = tmp_path / f"run-{seed}-{buyers}-{tickets}"
    result = run_simulation(config, run_dir).result
    assert result.buyers_succeeded == min(buyers, tickets)
    assert result.tickets_remaining == _count_in_db(run_dir) == tickets - result.buyers_succeeded
    assert result.oversold == result.lost_updates == result.buyers_errored == 0

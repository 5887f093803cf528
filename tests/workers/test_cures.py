"""Every cure on every store it runs on: exact where the race is deterministic, safe for every interleaving."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers import RunFailed, SimulationConfig, run_simulation
from workers.errors import DbError
from workers.speech import fact, said
from workers.stores import SERVER_STORES
from workers.strategies.seller import _telling, _told
from workers.support import STRATEGIES_BY_STORE, cures

# 10 buyers released together, each holding the read-to-write window for 150 ms: every buyer reads before any
# writes unless something stops it.
LESSON = {"buyers": 10, "tickets": 1, "think_ms": 0, "hold_ms": 150}
SAFE_CURES = [
    (store, cure.strategy, cure.lock)
    for store in STRATEGIES_BY_STORE
    if store not in SERVER_STORES
    for cure in cures(store)
    if cure.lock not in ("none", "semaphore") or cure.strategy != "read-write"
]  # fmt: skip  the stores on a server have tests of their own (tests/workers/stores)


@pytest.mark.parametrize("permits", [1, 2, 3])
def test_a_semaphore_of_k_permits_hands_out_exactly_k_tickets_for_one_seat(run_dir: Path, permits: int) -> None:
    result = run_simulation(SimulationConfig(**LESSON, lock="semaphore", permits=permits), run_dir).result
    assert result.tickets_handed_out == permits
    assert result.oversold == permits - 1
    assert result.max_in_critical == permits
    assert result.tickets_remaining == 0 and result.buyers_errored == 0


@pytest.mark.parametrize("executor", ["process", "pool"])
def test_shared_memory_without_a_lock_oversells_and_with_a_process_lock_does_not(run_dir: Path, executor: str) -> None:
    fields = {**LESSON, "store": "memory", "executor": executor}
    if executor == "pool":
        fields["workers"] = 10  # ten buyers at once, as with one process each
    raced = run_simulation(SimulationConfig(**fields), run_dir / "none").result
    assert (raced.tickets_handed_out, raced.oversold, raced.tickets_remaining) == (10, 9, 0)
    locked = run_simulation(SimulationConfig(**fields, lock="process"), run_dir / "process").result
    assert (locked.tickets_handed_out, locked.oversold, locked.buyers_sold_out) == (1, 0, 9)
    assert not any((run_dir / "none").iterdir())  # nothing on disk: the tickets lived in memory


def test_optimistic_buyers_under_contention_retry_and_sell_the_seat_once(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="optimistic"), run_dir)
    result = report.result
    assert (result.tickets_handed_out, result.buyers_sold_out, result.oversold) == (1, 9, 0)
    assert sum(r.retries or 0 for r in report.records) >= 9  # every loser's first write was refused
    assert json.loads((run_dir / "db.json").read_text())["count"] == 0  # the lesson's code can still read it
    assert sorted(p.name for p in run_dir.iterdir()) == ["db.json"]  # the version files are gone


def test_optimistic_buyers_give_up_after_their_retries(run_dir: Path) -> None:
    every = list(range(1, 11))  # all search, all read version 0, all write: the first write goes through
    config = SimulationConfig(buyers=10, tickets=10, strategy="optimistic", max_retries=0, schedule=every * 3)
    report = run_simulation(config, run_dir)
    outcomes = sorted(r.outcome for r in report.records)
    assert outcomes == ["gave_up"] * 9 + ["success"]  # all read version 0; one write went through
    assert report.result.tickets_remaining == 9 and report.result.oversold == 0
    gave_up = next(r for r in report.records if r.outcome == "gave_up")
    assert gave_up.error == "gave up after 0 retries: another buyer wrote first every time"


def test_the_seller_answers_every_buyer_and_sells_the_seat_once(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="seller"), run_dir)
    result = report.result
    assert (result.tickets_handed_out, result.buyers_sold_out, result.oversold) == (1, 9, 0)
    sellers = {r.pid for r in report.records}
    assert len(sellers) == 10  # ten buyer processes; none of them touched the db
    for r in report.records:
        assert r.t_lock_requested <= r.t_lock_acquired <= r.t_read <= r.t_end  # type: ignore[operator]


def test_a_seller_killed_mid_run_fails_the_run_with_a_clear_error(run_dir: Path) -> None:
    killed: list[int] = []

    def kill_the_seller() -> bool:
        launchers = psutil.Process().children()
        forked = launchers[0].children() if launchers else []
        if not killed and len(forked) == 6:  # the seller, started first, then the five buyers
            seller = min(forked, key=lambda p: (p.create_time(), p.pid))
            killed.append(seller.pid)
            os.kill(seller.pid, signal.SIGKILL)
        return False

    config = SimulationConfig(buyers=5, tickets=5, strategy="seller", think_ms=0, hold_ms=60_000)
    with pytest.raises(RunFailed, match="the ticketrush-seller was killed by signal 9 mid-run"):
        run_simulation(config, run_dir, should_stop=kill_the_seller, time_limit_s=60)
    assert killed


ANY_SAFE_RUSH = given(
    buyers=st.integers(1, 12),
    tickets=st.integers(0, 14),
    cure=st.sampled_from(SAFE_CURES),
    executor=st.sampled_from(["process", "pool"]),
    workers=st.integers(1, 3),
    hold_ms=st.sampled_from([0, [0, 2]]),
    seed=st.integers(0, 2**32),
)


def sells_exactly_what_exists(
    tmp_path: Path,
    buyers: int,
    tickets: int,
    cure: tuple[str, str, str],
    executor: str,
    workers: int,
    hold_ms: object,
    seed: int,
) -> None:
    store, strategy, lock = cure
    config = SimulationConfig.model_validate(
        {
            "buyers": buyers,
            "tickets": tickets,
            "store": store,
            "strategy": strategy,
            "lock": lock,
            "executor": executor,
            "workers": workers if executor == "pool" else None,
            "think_ms": [0, 2],
            "hold_ms": hold_ms,
            "seed": seed,
        }
    )
    result = run_simulation(config, tmp_path / f"run-{seed}-{buyers}-{tickets}").result
    assert result.buyers_succeeded == min(buyers, tickets)
    assert result.tickets_remaining == tickets - result.buyers_succeeded
    assert result.oversold == result.lost_updates == result.buyers_errored == 0


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@ANY_SAFE_RUSH
def test_every_safe_cure_sells_exactly_what_exists(tmp_path: Path, **rush: Any) -> None:
    sells_exactly_what_exists(tmp_path, **rush)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@ANY_SAFE_RUSH
def test_every_safe_cure_sells_exactly_what_exists_in_100_rushes(tmp_path: Path, **rush: Any) -> None:
    sells_exactly_what_exists(tmp_path, **rush)


def test_an_optimistic_buyer_killed_mid_purchase_leaves_the_db_whole_and_the_others_sell(run_dir: Path) -> None:
    killed: list[int] = []
    seen: list[float] = []

    def kill_one_holding() -> bool:  # 0.2 s into the 0.4 s hold that follows every buyer's versioned read
        launchers = psutil.Process().children()
        buyers = launchers[0].children() if launchers else []
        if len(buyers) == 3 and not seen:
            seen.append(time.monotonic())
        if not killed and seen and time.monotonic() - seen[0] > 0.2 and len(buyers) == 3:
            victim = min(buyers, key=lambda p: p.pid)
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)
        return False

    config = SimulationConfig(buyers=3, tickets=3, strategy="optimistic", think_ms=0, hold_ms=400)
    report = run_simulation(config, run_dir, should_stop=kill_one_holding)
    dead = [r for r in report.records if r.pid in killed]
    assert len(dead) == 1 and dead[0].outcome == "error"
    assert report.result.tickets_sold == report.result.buyers_succeeded == 2  # the others sold, one version each
    assert json.loads((run_dir / "db.json").read_text())["count"] == 1
    assert sorted(p.name for p in run_dir.iterdir()) == ["db.json"]


def test_a_sellers_failure_reaches_its_buyers_in_words_and_as_its_fact() -> None:
    unreadable = DbError(fact("db.unreadable", path="/runs/1/db.json", words="Input/output error"))
    words, told = _told(_telling(unreadable))
    assert (words, told) == ("ticket db /runs/1/db.json is unreadable: Input/output error", unreadable.fact)
    assert told is not None and said(told, "zh") == "票数据库 /runs/1/db.json 无法读取:Input/output error"

    huge = DbError(fact("db.unreadable", path="/runs/1/db.json", words="x" * 5000))
    words, told = _told(_telling(huge))
    assert told is None and words == str(huge)[:200]  # too long to send whole: the words alone, cut short
    assert _told(_telling(OSError("disk gone"))) == ("OSError: disk gone", None)

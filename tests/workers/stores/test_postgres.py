"""The PostgreSQL store, against the real server: the race under READ COMMITTED, and every cure the server has."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import Postgres
from workers import RunFailed, RunReport, SimulationConfig, StoreFailed, StoreRefused, drop_store, run_simulation
from workers.support import cures

pytestmark = pytest.mark.postgres

# 10 buyers released together, each holding the read-to-write window for 400 ms: every buyer reads before any
# writes unless something stops it (released buyers were seen taking up to 150 ms to start on a loaded machine).
LESSON = {"buyers": 10, "tickets": 1, "think_ms": 0, "hold_ms": 400, "store": "postgres"}
SAFE = [c for c in cures("postgres") if c.strategy != "read-write" or c.lock not in ("none", "semaphore")]


def test_postgres_read_write_under_read_committed_loses_updates_and_oversells(
    run_dir: Path, store_urls: dict[str, str], postgres: Postgres
) -> None:
    result = run_simulation(SimulationConfig(**LESSON), run_dir, store_urls=store_urls).result
    assert (result.tickets_handed_out, result.oversold, result.lost_updates) == (10, 9, 9)
    assert result.tickets_remaining == postgres.count(run_dir) == 0  # the table itself says 0, not -9
    drop_store(SimulationConfig(store="postgres"), run_dir, store_urls)


@pytest.mark.parametrize(("executor", "buyers", "connections"), [("process", 10, 10), ("pool", 30, 3)])
def test_postgres_buyer_processes_each_open_one_connection_of_their_own(
    run_dir: Path, store_urls: dict[str, str], postgres: Postgres, executor: str, buyers: int, connections: int
) -> None:
    seen: list[int] = []

    def count_connections() -> bool:
        seen.append(postgres.connections(run_dir))
        return False

    config = SimulationConfig.model_validate(
        {**LESSON, "buyers": buyers, "tickets": buyers, "hold_ms": 300 if executor == "process" else 100}
        | {"executor": executor, "workers": 3 if executor == "pool" else None}
    )
    run_simulation(config, run_dir, store_urls=store_urls, should_stop=count_connections)
    assert max(seen) == connections  # one per buyer process, or one per pool worker for all its buyers
    assert postgres.connections(run_dir) == 0  # each closed its own when done
    drop_store(config, run_dir, store_urls)


def test_postgres_serializable_retries_every_refused_transaction(
    run_dir: Path, store_urls: dict[str, str], postgres: Postgres
) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="serializable"), run_dir, store_urls=store_urls)
    assert (report.result.tickets_handed_out, report.result.buyers_sold_out, report.result.oversold) == (1, 9, 0)
    assert sum(r.retries or 0 for r in report.records) >= 9  # every buyer but the first was refused at least once
    assert postgres.count(run_dir) == 0
    drop_store(report.config, run_dir, store_urls)


def test_postgres_serializable_gives_up_after_its_retries_with_the_servers_words(
    run_dir: Path, store_urls: dict[str, str]
) -> None:
    config = SimulationConfig(**{**LESSON, "tickets": 10}, strategy="serializable", max_retries=0)
    report = run_simulation(config, run_dir, store_urls=store_urls)
    outcomes = sorted(r.outcome for r in report.records)
    assert outcomes == ["gave_up"] * 9 + ["success"]  # all read 10 in their transactions; one commit went through
    assert {r.error for r in report.records if r.outcome == "gave_up"} == {
        "gave up after 0 retries: PostgreSQL refused the transaction: could not serialize access due to concurrent "
        "update"
    }
    assert report.result.tickets_remaining == 9
    drop_store(config, run_dir, store_urls)


def test_postgres_optimistic_retries_on_the_version_column(run_dir: Path, store_urls: dict[str, str]) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="optimistic"), run_dir, store_urls=store_urls)
    assert (report.result.tickets_handed_out, report.result.oversold) == (1, 0)
    assert sum(r.retries or 0 for r in report.records) >= 9
    drop_store(report.config, run_dir, store_urls)


@pytest.mark.parametrize(("strategy", "lock"), [("for-update", "none"), ("read-write", "advisory")])
def test_postgres_locks_make_buyers_take_turns(
    run_dir: Path, store_urls: dict[str, str], strategy: str, lock: str
) -> None:
    config = SimulationConfig(**{**LESSON, "tickets": 2}, strategy=strategy, lock=lock)  # type: ignore[arg-type]
    report = run_simulation(config, run_dir, store_urls=store_urls)
    result = report.result
    assert (result.tickets_handed_out, result.buyers_sold_out, result.oversold) == (2, 8, 0)
    assert result.max_in_critical == 1
    waits = [(r.t_lock_acquired - r.t_lock_requested) / 1e6 for r in report.records if r.t_lock_acquired]
    assert max(waits) >= 600  # the last in line waited for the two who held 400 ms each
    drop_store(config, run_dir, store_urls)


@pytest.mark.parametrize(
    ("strategy", "lock", "waited_for"),
    [("for-update", "none", "PostgreSQL row lock"), ("read-write", "advisory", "PostgreSQL advisory lock")],
)
def test_postgres_buyer_gives_up_when_the_servers_lock_outlasts_its_wait(
    run_dir: Path, store_urls: dict[str, str], strategy: str, lock: str, waited_for: str
) -> None:
    config = SimulationConfig.model_validate(
        {**LESSON, "buyers": 3, "tickets": 3, "hold_ms": 1000}
        | {"strategy": strategy, "lock": lock, "lock_timeout_s": 0.1}
    )
    report = run_simulation(config, run_dir, store_urls=store_urls)
    assert sorted(r.outcome for r in report.records) == ["gave_up", "gave_up", "success"]
    assert {r.error for r in report.records if r.outcome == "gave_up"} == {
        f"gave up after waiting 0.1 s for the {waited_for}"
    }
    assert report.result.tickets_remaining == 2
    drop_store(config, run_dir, store_urls)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    buyers=st.integers(1, 12),
    tickets=st.integers(0, 14),
    cure=st.sampled_from(SAFE),
    executor=st.sampled_from(["process", "pool"]),
    workers=st.integers(1, 3),
    seed=st.integers(0, 2**32),
)
def test_every_postgres_cure_sells_exactly_what_exists(
    tmp_path: Path,
    store_urls: dict[str, str],
    postgres: Postgres,
    buyers: int,
    tickets: int,
    cure: tuple[str, str],
    executor: str,
    workers: int,
    seed: int,
) -> None:
    strategy, lock = cure
    config = SimulationConfig.model_validate(
        {
            **{"store": "postgres", "strategy": strategy, "lock": lock, "executor": executor, "seed": seed},
            **{"buyers": buyers, "tickets": tickets, "think_ms": [0, 2], "hold_ms": [0, 2]},
            "workers": workers if executor == "pool" else None,
        }
    )
    run_dir = tmp_path / f"run-{seed}-{buyers}-{tickets}"
    result = run_simulation(config, run_dir, store_urls=store_urls).result
    assert result.buyers_succeeded == min(buyers, tickets)
    assert result.tickets_remaining == postgres.count(run_dir) == tickets - result.buyers_succeeded
    assert result.oversold == result.lost_updates == result.buyers_errored == 0
    drop_store(config, run_dir, store_urls)


@pytest.mark.parametrize("cure", SAFE, ids=[c.name for c in SAFE])
def test_a_thousand_pool_buyers_on_postgres_sell_exactly(
    run_dir: Path, store_urls: dict[str, str], postgres: Postgres, cure: tuple[str, str]
) -> None:
    strategy, lock = cure
    config = SimulationConfig.model_validate(
        {"buyers": 1000, "tickets": 100, "store": "postgres", "strategy": strategy, "lock": lock}
        | {"executor": "pool", "workers": 4, "think_ms": 0, "hold_ms": 0}
    )
    result = run_simulation(config, run_dir, store_urls=store_urls).result
    assert (result.buyers_succeeded, result.buyers_sold_out, result.oversold, result.buyers_errored) == (100, 900, 0, 0)
    assert postgres.count(run_dir) == 0
    drop_store(config, run_dir, store_urls)


def test_a_deleted_postgres_run_leaves_no_table(run_dir: Path, store_urls: dict[str, str], postgres: Postgres) -> None:
    config = SimulationConfig(**LESSON, strategy="atomic")
    run_simulation(config, run_dir, store_urls=store_urls)
    assert postgres.has_table(run_dir)  # kept after the run: its final count is the result's
    drop_store(config, run_dir, store_urls)
    assert not postgres.has_table(run_dir)


def test_postgres_runs_in_folders_of_the_same_name_get_tables_of_their_own(
    tmp_path: Path, store_urls: dict[str, str], postgres: Postgres
) -> None:
    first, second = tmp_path / "a" / "run", tmp_path / "b" / "run"
    config = SimulationConfig(**{**LESSON, "tickets": 5}, strategy="atomic")
    run_simulation(config, first, store_urls=store_urls)
    run_simulation(config.model_copy(update={"tickets": 20}), second, store_urls=store_urls)
    assert postgres.table_of(first) != postgres.table_of(second)
    assert (postgres.count(first), postgres.count(second)) == (0, 10)
    drop_store(config, first, store_urls)
    drop_store(config, second, store_urls)


def test_postgres_run_over_max_connections_is_refused_before_anything_starts(
    run_dir: Path, store_urls: dict[str, str], postgres: Postgres
) -> None:
    config = SimulationConfig(**{**LESSON, "buyers": 1000})
    with pytest.raises(StoreRefused) as refused:
        run_simulation(config, run_dir, store_urls=store_urls)
    message = str(refused.value)
    assert "would open 1,000 connections" in message and "(its max_connections)" in message
    assert "use executor 'pool'" in message
    assert refused.value.field == "executor"
    assert not postgres.has_table(run_dir) and not run_dir.exists()


def test_postgres_two_runs_started_together_are_checked_one_after_the_other(
    tmp_path: Path, store_urls: dict[str, str], postgres: Postgres
) -> None:
    """Two runs released at the same instant, each with connections for a little more than half of what the
    server has free: each alone fits, together they do not. The second is checked only once the first's buyers
    are connected, so it is refused before it starts, and the first sells every ticket with no buyer failing for
    want of a connection (checked at the same time, both would start and buyers of each would fail)."""
    most, reserved, in_use = postgres.conn.execute(
        "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
    ).fetchone()  # type: ignore[misc]
    buyers = (most - reserved - in_use) // 2 + 4
    config = SimulationConfig(
        buyers=buyers, tickets=buyers, think_ms=0, hold_ms=20, lock="process", store="postgres"
    )  # the buyers keep their connections about buyers x 20 ms, one at a time under the lock
    together = threading.Barrier(2, timeout=10)
    outcomes: dict[int, object] = {}

    def run(n: int) -> None:
        together.wait()
        try:
            outcomes[n] = run_simulation(config, tmp_path / f"run{n}", store_urls=store_urls)
        except StoreRefused as e:
            outcomes[n] = e

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    refused = [o for o in outcomes.values() if isinstance(o, StoreRefused)]
    ran = [o for o in outcomes.values() if isinstance(o, RunReport)]
    assert (len(refused), len(ran)) == (1, 1), outcomes
    assert f"would open {buyers:,} connections" in str(refused[0]) and "(its max_connections)" in str(refused[0])
    assert [r.error for r in ran[0].records if r.outcome == "error"] == []
    assert (ran[0].result.tickets_handed_out, ran[0].result.oversold) == (buyers, 0)
    for n in (1, 2):
        drop_store(config, tmp_path / f"run{n}", store_urls)


def test_postgres_run_waiting_past_its_time_limit_for_another_runs_start_fails_saying_so(
    run_dir: Path, store_urls: dict[str, str], postgres: Postgres
) -> None:
    """The admission lock held elsewhere (as by a run whose buyers are still connecting) for longer than this
    run's time limit: it fails saying what it waited for, having made nothing."""
    holder = psycopg.connect(postgres.url, autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s::int, %s::int)", (0x7469636B, 0x61646D74))
        with pytest.raises(RunFailed) as failed:
            run_simulation(SimulationConfig(**LESSON), run_dir, store_urls=store_urls, time_limit_s=0.5)
    finally:
        holder.close()
    assert str(failed.value) == (
        f"another run on the PostgreSQL server at {postgres.where} was still opening its connections after "
        "0.5 s, so this one could not be checked against them"
    )
    assert not postgres.has_table(run_dir)
    run_simulation(
        SimulationConfig(**{**LESSON, "hold_ms": 0}), run_dir, store_urls=store_urls
    )  # it ended with its holder
    drop_store(SimulationConfig(store="postgres"), run_dir, store_urls)


def test_postgres_without_a_url_is_refused(run_dir: Path) -> None:
    with pytest.raises(StoreRefused, match="store 'postgres' needs the URL of its server"):
        run_simulation(SimulationConfig(**LESSON), run_dir, store_urls={})


def test_postgres_server_that_cannot_be_reached_fails_the_run_with_its_words(run_dir: Path) -> None:
    with pytest.raises(RunFailed) as failed:
        run_simulation(
            SimulationConfig(**LESSON), run_dir, store_urls={"postgres": "postgresql://postgres@127.0.0.1:1/test"}
        )
    message = str(failed.value)
    assert message.startswith("the PostgreSQL server at 127.0.0.1:1 could not be reached: connection failed")
    assert "Connection refused" in message


@pytest.mark.parametrize(
    ("executor", "strategy", "connections"),
    [("process", "read-write", 5), ("pool", "read-write", 2), ("process", "seller", 1)],
)
def test_postgres_closing_the_connections_mid_run_fails_the_run_cleanly(
    run_dir: Path, store_urls: dict[str, str], postgres: Postgres, executor: str, strategy: str, connections: int
) -> None:
    """pg_terminate_backend on every connection of the run while its buyers hold: the run fails with the server's
    words, keeps what its buyers reported, and leaves no process behind (the fixture checks)."""
    closed: list[int] = []

    def close_them_once_all_are_open() -> bool:
        if not closed and postgres.connections(run_dir) == connections:
            closed.append(postgres.close_connections(run_dir))
        return False

    config = SimulationConfig(
        **{**LESSON, "buyers": 5 if executor == "process" else 6, "tickets": 6, "hold_ms": 500},
        executor=executor,  # type: ignore[arg-type]
        workers=2 if executor == "pool" else None,
        strategy=strategy,  # type: ignore[arg-type]
    )
    with pytest.raises(StoreFailed) as failed:
        run_simulation(config, run_dir, store_urls=store_urls, should_stop=close_them_once_all_are_open)
    assert closed == [connections]
    message = str(failed.value)
    postgres.closed_on(message)
    records = failed.value.records
    assert len(records) == config.buyers and {r.buyer for r in records} == set(range(1, config.buyers + 1))
    failed_count = sum(r.outcome == "error" for r in records)
    assert failed_count >= connections  # whoever was holding on each connection lost its write
    assert message.endswith(
        f"{config.buyers - failed_count:,} of {config.buyers:,} buyers finished, {failed_count:,} failed"
    )
    drop_store(config, run_dir, store_urls)

"""The Redis store, against the real server: GET, hold, SET oversells; Lua, WATCH and a lock are its cures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import Redis
from tests.workers.stores.witnessed import check_lost_update
from tests.workers.test_witnesses import EXPIRED
from workers import RunFailed, SimulationConfig, StoreFailed, StoreRefused, drop_store, run_simulation
from workers.stores.redis import RedisStore
from workers.support import cures

pytestmark = pytest.mark.redis

# 10 buyers released together, each holding the read-to-write window for 400 ms: every buyer reads before any
# writes unless something stops it (released buyers were seen taking up to 150 ms to start on a loaded machine).
LESSON = {"buyers": 10, "tickets": 1, "think_ms": 0, "hold_ms": 400, "store": "redis"}
SAFE = [c for c in cures("redis") if c.strategy != "read-write" or c.lock not in ("none", "semaphore")]


def test_redis_get_hold_set_loses_updates_and_oversells(
    run_dir: Path, store_urls: dict[str, str], redis_server: Redis
) -> None:
    report = run_simulation(SimulationConfig(**LESSON), run_dir, store_urls=store_urls)
    result = report.result
    assert (result.tickets_handed_out, result.oversold, result.lost_updates) == (10, 9, 9)
    assert result.tickets_remaining == redis_server.count(run_dir) == 0
    check_lost_update("redis", result, report.records)  # "Lost updates in Redis: a buyer's GET and its SET ..."
    key = redis_server.store_of(run_dir).count_key
    assert f"1 ticket left the Redis key {key} and 0 remain" in result.explanation
    drop_store(SimulationConfig(store="redis"), run_dir, store_urls)


@pytest.mark.parametrize(("executor", "buyers", "connections"), [("process", 10, 10), ("pool", 12, 3)])
def test_redis_buyer_processes_each_open_one_connection_of_their_own(
    run_dir: Path, store_urls: dict[str, str], redis_server: Redis, executor: str, buyers: int, connections: int
) -> None:
    seen: list[int] = []

    def count_connections() -> bool:
        seen.append(redis_server.connections(run_dir))
        return False

    config = SimulationConfig.model_validate(
        {**LESSON, "buyers": buyers, "tickets": buyers, "hold_ms": 100}
        | {"strategy": "optimistic", "executor": executor, "workers": 3 if executor == "pool" else None}
    )
    run_simulation(config, run_dir, store_urls=store_urls, should_stop=count_connections)
    assert max(seen) == connections  # WATCH / MULTI / EXEC go over the same one connection as every command
    assert redis_server.connections(run_dir) == 0
    drop_store(config, run_dir, store_urls)


@pytest.mark.parametrize("buyers", [2, 10])
def test_redis_lock_whose_ttl_runs_out_during_the_hold_lets_a_second_buyer_in(
    run_dir: Path, store_urls: dict[str, str], buyers: int
) -> None:
    """The holder keeps the window open 400 ms on a lock that lives 50 ms: once it expires, the next buyer's
    SET NX wins while the first is still between read and write, both sell the one seat, and the explanation
    says whose lock expired and who got in, as the records' times show it."""
    config = SimulationConfig(**{**LESSON, "buyers": buyers, "hold_ms": 400}, lock="redis", lock_ttl_ms=50)
    report = run_simulation(config, run_dir, store_urls=store_urls)
    result = report.result
    assert result.oversold >= 1 and result.max_in_critical >= 2
    assert result.tickets_remaining == 0
    found = EXPIRED.match(result.explanation)  # the explanation opens with it
    assert found is not None, result.explanation
    by_buyer = {r.buyer: r for r in report.records}
    holder, intruder = by_buyer[int(found["holder"])], by_buyer[int(found["intruder"])]
    assert holder.t_lock_acquired < intruder.t_lock_acquired < holder.t_write  # type: ignore[operator]
    assert intruder.t_lock_requested + 50 * 1_000_000 > holder.t_lock_acquired  # type: ignore[operator]
    assert found["ttl"] == "50" and float(found["held"]) >= 400
    check_lost_update("redis", result, report.records)
    drop_store(config, run_dir, store_urls)


def test_redis_lock_is_set_with_its_ttl_and_freed_only_by_its_holder(
    run_dir: Path, redis_url: str, redis_server: Redis
) -> None:
    store = RedisStore(run_dir, redis_url)
    store.create(1)
    store.open()
    try:
        assert store.try_lock("first", 50)
        assert 0 < redis_server.client.pttl(store.lock_key) <= 50
        assert not store.try_lock("second", 30_000)  # held
        redis_server.client.delete(store.lock_key)  # what its TTL running out does
        assert store.try_lock("second", 30_000)
        assert store.unlock("first") is False  # the first holder's release leaves the second's lock alone
        assert redis_server.client.get(store.lock_key) == b"second"
        assert store.unlock("second") is True
        assert redis_server.client.get(store.lock_key) is None
    finally:
        store.close()
        store.drop()


def test_redis_lock_that_outlives_the_hold_makes_buyers_take_turns(run_dir: Path, store_urls: dict[str, str]) -> None:
    config = SimulationConfig(**{**LESSON, "tickets": 2}, lock="redis")
    assert config.resolved().lock_ttl_ms == 30_000
    result = run_simulation(config, run_dir, store_urls=store_urls).result
    assert (result.tickets_handed_out, result.buyers_sold_out, result.oversold, result.max_in_critical) == (2, 8, 0, 1)
    assert result.lock_wait_max_ms >= 600  # the last in line waited for the two who held 400 ms each
    assert "expired" not in result.explanation  # nobody held it past its 30 s
    drop_store(config, run_dir, store_urls)


def test_redis_optimistic_retries_when_exec_finds_the_watched_key_changed(
    run_dir: Path, store_urls: dict[str, str], redis_server: Redis
) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="optimistic"), run_dir, store_urls=store_urls)
    assert (report.result.tickets_handed_out, report.result.buyers_sold_out, report.result.oversold) == (1, 9, 0)
    assert sum(r.retries or 0 for r in report.records) >= 9
    assert redis_server.count(run_dir) == 0
    drop_store(report.config, run_dir, store_urls)


def test_redis_atomic_script_takes_a_ticket_per_buyer(
    run_dir: Path, store_urls: dict[str, str], redis_server: Redis
) -> None:
    report = run_simulation(
        SimulationConfig(**{**LESSON, "tickets": 4}, strategy="atomic"), run_dir, store_urls=store_urls
    )
    assert sorted((r.read, r.wrote) for r in report.records if r.outcome == "success") == [
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 3),
    ]
    assert report.result.buyers_sold_out == 6 and redis_server.count(run_dir) == 0  # never below zero
    drop_store(report.config, run_dir, store_urls)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    buyers=st.integers(1, 12),
    tickets=st.integers(0, 14),
    cure=st.sampled_from(SAFE),
    executor=st.sampled_from(["process", "pool"]),
    workers=st.integers(1, 3),
    seed=st.integers(0, 2**32),
)
def test_every_redis_cure_sells_exactly_what_exists(
    tmp_path: Path,
    store_urls: dict[str, str],
    redis_server: Redis,
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
            **{"store": "redis", "strategy": strategy, "lock": lock, "executor": executor, "seed": seed},
            **{"buyers": buyers, "tickets": tickets, "think_ms": [0, 2], "hold_ms": [0, 2]},
            "workers": workers if executor == "pool" else None,
        }
    )
    run_dir = tmp_path / f"run-{seed}-{buyers}-{tickets}"
    result = run_simulation(config, run_dir, store_urls=store_urls).result
    assert result.buyers_succeeded == min(buyers, tickets)
    assert result.tickets_remaining == redis_server.count(run_dir) == tickets - result.buyers_succeeded
    assert result.oversold == result.lost_updates == result.buyers_errored == 0
    drop_store(config, run_dir, store_urls)


@pytest.mark.parametrize("cure", SAFE, ids=[c.name for c in SAFE])
def test_a_thousand_pool_buyers_on_redis_sell_exactly(
    run_dir: Path, store_urls: dict[str, str], redis_server: Redis, cure: tuple[str, str]
) -> None:
    strategy, lock = cure
    config = SimulationConfig.model_validate(
        {"buyers": 1000, "tickets": 100, "store": "redis", "strategy": strategy, "lock": lock}
        | {"executor": "pool", "workers": 4, "think_ms": 0, "hold_ms": 0}
    )
    result = run_simulation(config, run_dir, store_urls=store_urls).result
    assert (result.buyers_succeeded, result.buyers_sold_out, result.oversold, result.buyers_errored) == (100, 900, 0, 0)
    assert redis_server.count(run_dir) == 0
    drop_store(config, run_dir, store_urls)


def test_a_deleted_redis_run_leaves_no_key(run_dir: Path, store_urls: dict[str, str], redis_server: Redis) -> None:
    config = SimulationConfig(**LESSON, lock="redis")
    run_simulation(config, run_dir, store_urls=store_urls)
    assert redis_server.keys(run_dir) != []  # kept after the run: its final count is the result's
    drop_store(config, run_dir, store_urls)
    assert redis_server.keys(run_dir) == []


def test_redis_without_a_url_is_refused(run_dir: Path) -> None:
    with pytest.raises(StoreRefused, match="store 'redis' needs the URL of its server"):
        run_simulation(SimulationConfig(**LESSON), run_dir)


def test_redis_server_that_cannot_be_reached_fails_the_run_with_its_words(run_dir: Path) -> None:
    with pytest.raises(RunFailed) as failed:
        run_simulation(SimulationConfig(**LESSON), run_dir, store_urls={"redis": "redis://127.0.0.1:1/0"})
    message = str(failed.value)
    assert message.startswith("the Redis server at 127.0.0.1:1 could not be reached: Error 111 connecting")
    assert "Connection refused" in message


@pytest.mark.parametrize(
    ("executor", "strategy", "connections"),
    [("process", "read-write", 5), ("pool", "read-write", 2), ("process", "seller", 1)],
)
def test_redis_closing_the_connections_mid_run_fails_the_run_cleanly(
    run_dir: Path, store_urls: dict[str, str], redis_server: Redis, executor: str, strategy: str, connections: int
) -> None:
    """CLIENT KILL on every connection of the run while its buyers hold: the client does not reconnect behind
    the buyers' backs; the run fails with the server's words and keeps what its buyers reported."""
    closed: list[int] = []

    def close_them_once_all_are_open() -> bool:
        if not closed and redis_server.connections(run_dir) == connections:
            closed.append(redis_server.close_connections(run_dir))
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
    redis_server.closed_on(message)
    records = failed.value.records
    assert {r.buyer for r in records} == set(range(1, config.buyers + 1))
    failed_count = sum(r.outcome == "error" for r in records)
    assert failed_count >= connections  # whoever was holding on each connection lost its write
    assert message.endswith(
        f"{config.buyers - failed_count:,} of {config.buyers:,} buyers finished, {failed_count:,} failed"
    )
    drop_store(config, run_dir, store_urls)

"""The dask executor against a real cluster (a `dask scheduler` and two `dask worker` processes) and the
PostgreSQL and Redis servers of this machine."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis

from tests.workers.executors.conftest import Cluster
from workers import RunCancelled, RunTimedOut, SimulationConfig, StoreRefused, run_simulation
from workers.executors.clocks import ClockReading
from workers.executors.dask_executor import DaskRace
from workers.messages import BuyerRecord
from workers.speech import say
from workers.stores.redis import RedisStore

pytestmark = pytest.mark.timeout(90)


def _urls(postgres: str | None = None, redis_: str | None = None) -> dict[str, str]:
    return {k: v for k, v in (("postgres", postgres), ("redis", redis_)) if v}


@pytest.mark.redis
def test_dask_redis_atomic_sells_exactly_the_tickets_over_two_workers(
    cluster: Cluster,
    redis_url: str,
    run_dir: Path,
) -> None:
    seen: list[int] = []
    config = SimulationConfig(
        executor="dask", store="redis", strategy="atomic", buyers=3000, tickets=700, think_ms=0, hold_ms=0
    )
    report = run_simulation(
        config,
        run_dir,
        store_urls=_urls(redis_=redis_url),
        dask_scheduler=cluster.address,
        on_progress=lambda done, _total: seen.append(done),
    )
    result = report.result
    assert (result.tickets_sold, result.tickets_handed_out, result.oversold) == (700, 700, 0)
    assert (result.buyers_succeeded, result.buyers_sold_out, result.buyers_errored) == (700, 2300, 0)
    assert sorted(r.buyer for r in report.records) == list(range(1, 3001))
    assert seen[-1] == 3000
    assert (
        "The buyers ran in 4 dask tasks on 1 host (127.0.0.1), whose timestamps all come from one clock"
        in result.explanation
    )  # two workers of two threads, both on 127.0.0.1: one task per thread
    assert "each compares exactly with every other" in result.explanation
    assert {r.host for r in report.records} == {"127.0.0.1"}
    assert "在 4 个 dask 任务里,运行于 1 台主机(127.0.0.1)" in result.spoken("zh").explanation
    starts = [r.t_start for r in report.records if r.t_start is not None]
    assert min(starts) >= 0 and max(starts) - min(starts) < result.duration_ms * 1e6  # one clock for all


@pytest.mark.postgres
@pytest.mark.parametrize(("strategy", "lock"), [("for-update", "none"), ("read-write", "advisory")])
def test_dask_postgres_safe_cures_sell_exactly(
    cluster: Cluster,
    postgres_url: str,
    run_dir: Path,
    strategy: str,
    lock: str,
) -> None:
    config = SimulationConfig(
        executor="dask", store="postgres", strategy=strategy, lock=lock, buyers=40, tickets=9, think_ms=0, hold_ms=2
    )
    report = run_simulation(config, run_dir, store_urls=_urls(postgres=postgres_url), dask_scheduler=cluster.address)
    result = report.result
    assert (result.tickets_sold, result.tickets_handed_out, result.oversold, result.buyers_errored) == (9, 9, 0, 0)
    assert result.max_in_critical == 1


@pytest.mark.redis
def test_dask_read_write_without_a_lock_oversells_across_the_workers(
    cluster: Cluster,
    redis_url: str,
    run_dir: Path,
) -> None:
    """Four tasks released together, each buyer holding its read 400 ms: all four read 1 before any writes."""
    config = SimulationConfig(
        executor="dask", store="redis", strategy="read-write", lock="none", buyers=4, tickets=1, think_ms=0,
        hold_ms=400,
    )  # fmt: skip
    result = run_simulation(config, run_dir, store_urls=_urls(redis_=redis_url), dask_scheduler=cluster.address).result
    assert (result.tickets_sold, result.tickets_handed_out, result.oversold) == (1, 4, 3)
    assert result.max_in_critical == 4
    assert result.conflicts[0].size == 4


@pytest.mark.redis
@pytest.mark.parametrize("how", ["cancel", "time limit"])
def test_dask_cancel_and_the_time_limit_stop_every_task_buying(
    cluster: Cluster, redis_url: str, run_dir: Path, how: str
) -> None:
    from distributed import Client

    progress: list[int] = []
    config = SimulationConfig(
        executor="dask", store="redis", strategy="atomic", buyers=4000, tickets=4000, think_ms=5, hold_ms=0
    )  # 1,000 buyers a task, 5 ms each: 5 s unless stopped
    with pytest.raises(RunCancelled if how == "cancel" else RunTimedOut):
        run_simulation(
            config,
            run_dir,
            store_urls=_urls(redis_=redis_url),
            dask_scheduler=cluster.address,
            on_progress=lambda done, _total: progress.append(done),
            should_stop=(lambda: bool(progress) and progress[-1] >= 40) if how == "cancel" else None,
            time_limit_s=1.5 if how == "time limit" else 60,
        )
    with Client(cluster.address, timeout=10) as client:
        assert all(not tasks for tasks in client.processing().values())  # no task is left buying
    store = RedisStore(run_dir, redis_url)
    left = int(redis.Redis.from_url(redis_url).get(store.count_key) or 0)
    assert left > 2000  # stopped well before the 4,000 buyers were through


@pytest.mark.redis
def test_dask_a_worker_killed_mid_run_makes_its_unreported_buyers_errors(
    own_cluster: Cluster,
    redis_url: str,
    run_dir: Path,
) -> None:
    """Dask runs a lost worker's task again elsewhere; the rerun finds its share claimed and buys nothing, so no
    buyer buys twice: every ticket that left the store belongs to a reported success or an errored buyer."""
    killed: list[int] = []

    def kill_one(done: int, _total: int) -> None:
        if done >= 20 and not killed:
            victim = own_cluster.workers[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    config = SimulationConfig(
        executor="dask", store="redis", strategy="atomic", buyers=300, tickets=1000, think_ms=5, hold_ms=0
    )  # two tasks of 150 buyers, 5 ms each
    report = run_simulation(
        config, run_dir, store_urls=_urls(redis_=redis_url), dask_scheduler=own_cluster.address, on_progress=kill_one
    )
    result = report.result
    assert killed
    assert result.buyers_errored > 0
    assert result.buyers_succeeded + result.buyers_errored == 300
    assert result.tickets_sold <= result.buyers_succeeded + result.buyers_errored  # no share bought twice
    errors = {r.error for r in report.records if r.outcome == "error"}
    assert errors == {"its dask worker was lost mid-run, before it reported this buyer"}


def test_dask_without_a_scheduler_is_refused_before_anything_starts(run_dir: Path) -> None:
    config = SimulationConfig(executor="dask", store="redis", strategy="atomic")
    with pytest.raises(StoreRefused, match="executor 'dask' needs the address of a Dask scheduler") as caught:
        run_simulation(config, run_dir, store_urls={"redis": "redis://127.0.0.1:6379/0"})
    assert caught.value.field == "executor"


class _Messages:
    """What a run's Queue would hold: the messages, taken all at once."""

    def __init__(self, messages: list[list[object]]) -> None:
        self.messages = messages

    def get(self, timeout: float | None = None, batch: bool = False) -> object:
        if batch:
            taken, self.messages = self.messages, []
            return taken
        if not self.messages:
            raise TimeoutError
        return self.messages.pop(0)


def test_dask_records_of_another_host_are_put_on_this_hosts_clock(cluster: Cluster, run_dir: Path) -> None:
    """Hosts with another boot id: their timestamps move by (their offset - ours) to the store's clock; the
    explanation says they compare only to within the offsets' error. Hosts of our boot id do not move at all."""
    config = SimulationConfig(executor="dask", store="redis", strategy="atomic", buyers=2, tickets=1)
    race = DaskRace(config.resolved(), run_dir, 10.0, {"redis": "redis://127.0.0.1:6379/0"}, cluster.address)
    race.reap(cleanly=True)  # nothing was launched: only what the messages below say is looked at
    race.shares = [range(1, 3, 2), range(2, 3, 2)]
    race.own = ClockReading("here", "boot-a", offset_ns=1_000_000_000, error_ns=100_000)
    other = BuyerRecord(2, 7, "success", 1, 1, 0, None, 5_000, 5_000, None, None, 6_000, 6_000, 7_000)
    ours = BuyerRecord(1, 8, "sold_out", 1, 0, None, None, 9_000, 9_000, None, None, 9_500, None, 9_900)
    race.queue = _Messages(
        [
            ["ready", 0, "here", "boot-a", 1_000_000_000, 100_000],
            ["ready", 1, "there", "boot-b", 3_000_000_000, 400_000],
            ["records", 1, [list(other)]],
            ["records", 0, [list(ours)]],
        ]
    )
    race._take(0)
    assert race.records[1] == ours  # same boot id: the same clock, untouched
    moved = race.records[2]
    assert (moved.t_start, moved.t_read, moved.t_write, moved.t_end) == (
        2_000_005_000, 2_000_006_000, 2_000_006_000, 2_000_007_000
    )  # fmt: skip
    assert moved.t_lock_requested is None
    assert (moved.host, race.records[1].host) == (None, None)  # the tasks name the host, not the coordinator
    race.shares.append(range(3, 3))
    race.readings[2] = ClockReading("there", "boot-b", 3_000_000_000, 900_000)  # a worse reading of that clock
    note = say([race.clock_note()])
    assert note.startswith("The buyers ran in 3 dask tasks on 2 hosts (here and there), with 2 clocks among them")
    assert "to within 0.50 ms" in note  # the best reading of each clock: 0.10 + 0.40 ms

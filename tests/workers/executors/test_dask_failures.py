"""What goes wrong on a dask run, against a real cluster and the real servers: a store server that closes the
run's connections mid-run, and a run of more tasks than the cluster has worker threads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import Postgres, Redis
from tests.workers.executors.conftest import Cluster
from workers import SimulationConfig, StoreFailed, StoreRefused, run_simulation

pytestmark = pytest.mark.timeout(90)

NEVER_RAN = "never ran: its dask task stopped once the store's server closed a connection"


@pytest.mark.parametrize(
    "kind", [pytest.param("redis", marks=pytest.mark.redis), pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_dask_a_store_server_closing_the_connections_stops_every_task_and_fails_the_run(
    cluster: Cluster, request: pytest.FixtureRequest, run_dir: Path, kind: str
) -> None:
    """CLIENT KILL / pg_terminate_backend on the four tasks' connections once all are open: each task's next
    buyer fails with the server's words, every task stops after that batch, the run fails with those words and
    keeps every record; every ticket that left the store belongs to a reported buyer."""
    admin: Redis | Postgres = request.getfixturevalue("redis_server" if kind == "redis" else "postgres")
    url = request.getfixturevalue(f"{kind}_url")
    closed: list[int] = []

    def close_them_once_all_are_open() -> bool:
        if not closed and admin.connections(run_dir) == 4:
            closed.append(admin.close_connections(run_dir))
        return False

    config = SimulationConfig(
        executor="dask",
        store=kind,
        strategy="atomic",
        buyers=400,
        tickets=400,
        think_ms=20,
        hold_ms=0,  # type: ignore[arg-type]
    )  # four tasks of 100 buyers, 20 ms each: 2 s unless stopped
    with pytest.raises(StoreFailed) as failed:
        run_simulation(
            config,
            run_dir,
            store_urls={kind: url},
            dask_scheduler=cluster.address,
            should_stop=close_them_once_all_are_open,
        )
    assert closed == [4]
    message = str(failed.value)
    admin.closed_on(message)
    records = failed.value.records
    assert [r.buyer for r in records] == list(range(1, 401))
    succeeded = sum(r.outcome == "success" for r in records)
    met_it = [r for r in records if r.outcome == "error" and r.error != NEVER_RAN]
    never_ran = sum(r.error == NEVER_RAN for r in records)
    assert len(met_it) == 4  # one buyer on each closed connection
    for record in met_it:
        admin.closed_on(record.error or "")
    assert succeeded + len(met_it) + never_ran == 400
    assert never_ran > 200  # the tasks stopped, well before their 2 s were through
    assert {r.host for r in records} == {"127.0.0.1"}
    sold = 400 - admin.count(run_dir)
    assert succeeded <= sold <= succeeded + len(met_it)  # a cut-off reply may hide a sale; none is made twice
    assert message.endswith(f"{succeeded:,} of 400 buyers finished, {400 - succeeded:,} failed")

    from distributed import Client

    with Client(cluster.address, timeout=10) as client:
        assert all(not tasks for tasks in client.processing().values())  # no task is left buying


@pytest.mark.redis
def test_dask_more_tasks_than_worker_threads_are_refused_before_the_store_is_made(
    cluster: Cluster, redis_url: str, redis_server: Redis, run_dir: Path
) -> None:
    config = SimulationConfig(executor="dask", store="redis", strategy="atomic", workers=5, buyers=10, tickets=1)
    with pytest.raises(StoreRefused) as refused:
        run_simulation(config, run_dir, store_urls={"redis": redis_url}, dask_scheduler=cluster.address)
    assert (refused.value.field, refused.value.value, refused.value.limit) == ("workers", 5, 4)
    assert str(refused.value) == (
        f"5 tasks are more than the 4 worker threads of the Dask cluster at {cluster.address}: every task waits "
        "at the start line until all have started, so all must run at once; give workers at most 4"
    )
    assert redis_server.keys(run_dir) == []


@pytest.mark.redis
def test_dask_more_tasks_than_worker_threads_queue_without_a_start_line(
    cluster: Cluster, redis_url: str, run_dir: Path
) -> None:
    """Without the start line (together false) the tasks need not run at once: the cluster queues the rest."""
    config = SimulationConfig(
        executor="dask", store="redis", strategy="atomic", workers=6, buyers=60, tickets=25, together=False
    )
    report = run_simulation(config, run_dir, store_urls={"redis": redis_url}, dask_scheduler=cluster.address)
    result = report.result
    assert (result.tickets_sold, result.buyers_succeeded, result.buyers_sold_out, result.oversold) == (25, 25, 35, 0)
    assert "The buyers ran in 6 dask tasks on 1 host (127.0.0.1)" in result.explanation

"""The stores on a server, as the service and the command line meet them: their URLs, their limits, their tables
and keys kept until the simulation is deleted, and a server that closes on a run."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import Server, wait_for

from app.cli import main
from tests.servers import Postgres, Redis, drop_runs_under, servers_of
from workers import RunReport, SimulationConfig, experiments

LESSON = {"buyers": 10, "tickets": 1, "think_ms": 0, "hold_ms": 150}
NO_SERVERS = {"TICKETRUSH_POSTGRES_URL": "", "TICKETRUSH_REDIS_URL": ""}


@pytest.fixture(autouse=True)
def nothing_left_on_the_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    servers = servers_of(request)
    yield
    drop_runs_under(tmp_path, servers)


def _run_dir(server: Server, sim_id: str) -> Path:
    return server.data_dir / "runs" / sim_id


@pytest.mark.parametrize(
    ("store", "variable"), [("postgres", "TICKETRUSH_POSTGRES_URL"), ("redis", "TICKETRUSH_REDIS_URL")]
)
def test_a_store_whose_server_is_not_set_is_refused_naming_its_variable(
    start_server: Callable[..., Server], store: str, variable: str
) -> None:
    server = start_server(**NO_SERVERS)
    refused = server.client.post("/simulations", json={**LESSON, "store": store})
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "store"]
    assert f"store {store} needs {variable}" in error["msg"]
    assert server.client.get("/simulations").json()["count"] == 0


@pytest.mark.postgres
def test_a_postgres_run_over_max_connections_is_refused_up_front(
    start_server: Callable[..., Server], postgres_url: str
) -> None:
    server = start_server(TICKETRUSH_POSTGRES_URL=postgres_url)
    refused = server.client.post("/simulations", json={**LESSON, "buyers": 1000, "store": "postgres"})
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "executor"]
    assert "would open 1,000 connections" in error["msg"] and "(its max_connections)" in error["msg"]
    assert "use executor 'pool'" in error["msg"]
    accepted = server.post({**LESSON, "buyers": 1000, "store": "postgres", "executor": "pool", "workers": 4})
    assert server.wait_finished(accepted["id"])["status"] == "completed"
    assert server.client.delete(f"/simulations/{accepted['id']}").status_code == 204


@pytest.mark.postgres
def test_a_postgres_race_through_the_api_keeps_its_table_until_deleted(
    start_server: Callable[..., Server], postgres_url: str, postgres: Postgres
) -> None:
    server = start_server(TICKETRUSH_POSTGRES_URL=postgres_url)
    created = server.post({**LESSON, "store": "postgres"})
    simulation = server.wait_finished(created["id"])
    assert simulation["status"] == "completed", simulation
    assert (simulation["result"]["tickets_handed_out"], simulation["result"]["oversold"]) == (10, 9)
    run_dir = _run_dir(server, created["id"])
    assert postgres.count(run_dir) == 0

    assert server.client.delete(f"/simulations/{created['id']}").status_code == 204
    assert not postgres.has_table(run_dir)
    assert server.client.get(f"/simulations/{created['id']}").status_code == 404


@pytest.mark.redis
def test_a_redis_race_through_the_api_keeps_its_keys_until_deleted(
    start_server: Callable[..., Server], redis_url: str, redis_server: Redis
) -> None:
    server = start_server(TICKETRUSH_REDIS_URL=redis_url)
    created = server.post({**LESSON, "store": "redis", "strategy": "atomic"})
    simulation = server.wait_finished(created["id"])
    assert simulation["status"] == "completed", simulation
    assert (simulation["result"]["tickets_handed_out"], simulation["result"]["oversold"]) == (1, 0)
    run_dir = _run_dir(server, created["id"])
    assert redis_server.keys(run_dir) != []

    assert server.client.delete(f"/simulations/{created['id']}").status_code == 204
    assert redis_server.keys(run_dir) == []


@pytest.mark.postgres
def test_deleting_a_run_whose_server_cannot_be_reached_answers_503_and_deletes_nothing(
    start_server: Callable[..., Server], tmp_path: Path, postgres_url: str, postgres: Postgres
) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir, TICKETRUSH_POSTGRES_URL=postgres_url)
    created = first.post({**LESSON, "store": "postgres", "strategy": "atomic"})
    assert first.wait_finished(created["id"])["status"] == "completed"
    first.stop()
    run_dir = _run_dir(first, created["id"])

    unreachable = start_server(data_dir, TICKETRUSH_POSTGRES_URL="postgresql://postgres@127.0.0.1:1/test")
    refused = unreachable.client.delete(f"/simulations/{created['id']}")
    assert refused.status_code == 503
    assert refused.json()["detail"].startswith(
        f"simulation {created['id']} was not deleted: its tickets on store postgres could not be removed (the "
        "PostgreSQL server at 127.0.0.1:1 could not be reached"
    )
    assert unreachable.get(created["id"])["status"] == "completed"
    assert postgres.has_table(run_dir)
    unreachable.stop()

    again = start_server(data_dir, TICKETRUSH_POSTGRES_URL=postgres_url)
    assert again.client.delete(f"/simulations/{created['id']}").status_code == 204
    assert not postgres.has_table(run_dir)


@pytest.mark.postgres
def test_a_run_whose_connections_the_server_closes_fails_with_its_words_and_keeps_its_buyers(
    start_server: Callable[..., Server], postgres_url: str, postgres: Postgres
) -> None:
    server = start_server(TICKETRUSH_POSTGRES_URL=postgres_url)
    created = server.post({**LESSON, "buyers": 5, "tickets": 5, "hold_ms": 2000, "store": "postgres"})
    run_dir = _run_dir(server, created["id"])
    wait_for(lambda: postgres.connections(run_dir) == 5, 30, "the run's five buyers to connect")
    assert postgres.close_connections(run_dir) == 5

    simulation = server.wait_finished(created["id"])
    assert simulation["status"] == "failed"
    assert postgres.closed_on(simulation["error"]).endswith("; 0 of 5 buyers finished, 5 failed")
    buyers = server.client.get(f"/simulations/{created['id']}/buyers").json()
    assert buyers["count"] == 5
    for buyer in buyers["data"]:  # each one's own words for its connection, as the server closed it
        postgres.closed_on(buyer["error"])
    assert server.client.delete(f"/simulations/{created['id']}").status_code == 204
    assert not postgres.has_table(run_dir)


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_cli_refuses_a_store_whose_server_is_not_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TICKETRUSH_REDIS_URL", raising=False)
    code, _ = _cli("run", "--store", "redis", "--buyers", "3")
    assert code == 2
    assert "ticketrush: --store: store redis needs TICKETRUSH_REDIS_URL" in capsys.readouterr().err


@pytest.mark.postgres
def test_cli_runs_on_postgres_and_leaves_no_table_behind(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICKETRUSH_POSTGRES_URL", postgres_url)

    def cli_tables() -> set[str]:  # a CLI run's folder is a temporary ticketrush-* folder
        rows = postgres.conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'ticketrush\\_ticketrush\\_%'"
        )
        return {row[0] for row in rows}

    before = cli_tables()
    code, text = _cli("run", "--store", "postgres", "--strategy", "for-update", "--buyers", "4", "--hold-ms", "20")
    assert code == 0
    assert len(re.findall(r"buyer \d+ got a ticket \(read", text)) == 1
    assert cli_tables() == before  # the run's table went with its temporary folder

    code, _ = _cli("run", "--store", "postgres", "--buyers", "1000", "--think-ms", "0", "--hold-ms", "0")
    assert code == 2
    assert "(its max_connections)" in capsys.readouterr().err


def _experiment_trials(server: Server, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Run the experiment `body` to its end; its id and its trials' simulations."""
    response = server.client.post("/experiments", json=body)
    assert response.status_code == 202, response.text
    experiment_id = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        experiment: dict[str, Any] = server.client.get(f"/experiments/{experiment_id}").json()
        return experiment if experiment["status"] == "completed" else None

    experiment = wait_for(finished, 120, f"experiment {experiment_id} to complete", interval=0.1)
    return experiment_id, [server.get(i) for point in experiment["points"] for i in point["trials"]]


@pytest.mark.postgres
@pytest.mark.redis
def test_an_experiment_runs_on_the_servers_and_its_delete_leaves_no_table_or_key(
    start_server: Callable[..., Server],
    tmp_path: Path,
    postgres_url: str,
    redis_url: str,
    postgres: Postgres,
    redis_server: Redis,
) -> None:
    data_dir = tmp_path / "data"
    urls = {"TICKETRUSH_POSTGRES_URL": postgres_url, "TICKETRUSH_REDIS_URL": redis_url}
    first = start_server(data_dir, **urls)
    body = {"config": LESSON, "trials": 2, "vary": {"field": "store", "values": ["postgres", "redis"]}}
    experiment_id, trials = _experiment_trials(first, body)
    assert [t["config"]["store"] for t in trials] == ["postgres", "postgres", "redis", "redis"]
    for trial in trials:  # every buyer read the one ticket before any wrote: the lesson, on each server
        assert (trial["result"]["tickets_handed_out"], trial["result"]["oversold"]) == (10, 9), trial["config"]
    on_postgres = [_run_dir(first, t["id"]) for t in trials[:2]]
    on_redis = [_run_dir(first, t["id"]) for t in trials[2:]]
    assert postgres.tables(on_postgres) == 2
    assert all(redis_server.keys(d) for d in on_redis)
    first.stop()

    unreachable = start_server(
        data_dir, **{**urls, "TICKETRUSH_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/test"}
    )
    refused = unreachable.client.delete(f"/experiments/{experiment_id}")
    assert refused.status_code == 503
    assert refused.json()["detail"].startswith(
        f"simulation {trials[0]['id']} was not deleted: its tickets on store postgres could not be removed (the "
        "PostgreSQL server at 127.0.0.1:1 could not be reached"
    )
    assert unreachable.client.get(f"/experiments/{experiment_id}").status_code == 200
    assert [unreachable.get(t["id"])["status"] for t in trials] == ["completed"] * 4
    assert postgres.tables(on_postgres) == 2
    unreachable.stop()

    again = start_server(data_dir, **urls)
    assert again.client.delete(f"/experiments/{experiment_id}").status_code == 204
    assert postgres.tables(on_postgres) == 0
    assert [redis_server.keys(d) for d in on_redis] == [[], []]
    assert again.client.get(f"/experiments/{experiment_id}").status_code == 404


@pytest.mark.postgres
@pytest.mark.redis
def test_cli_sweep_runs_each_trial_on_its_server_and_leaves_no_table_or_key(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, redis_url: str, postgres: Postgres, redis_server: Redis
) -> None:
    monkeypatch.setenv("TICKETRUSH_POSTGRES_URL", postgres_url)
    monkeypatch.setenv("TICKETRUSH_REDIS_URL", redis_url)
    ran: list[tuple[str, Path, bool]] = []  # each trial's store, folder, and whether it left its tickets there
    run_simulation = experiments.run_simulation

    def noting(config: SimulationConfig, run_dir: Path, **options: Any) -> RunReport:
        report = run_simulation(config, run_dir, **options)
        there = postgres.tables([run_dir]) == 1 if config.store == "postgres" else bool(redis_server.keys(run_dir))
        ran.append((config.store, run_dir, there))
        return report

    monkeypatch.setattr(experiments, "run_simulation", noting)
    code, text = _cli(
        "sweep",
        "--vary",
        "store=postgres,redis",
        "--trials",
        "2",
        "--buyers",
        "10",
        "--think-ms",
        "0",
        "--hold-ms",
        "150",
    )
    assert code == 0
    assert re.search(r"^postgres +2/2 +9 / 9 / 9 ", text, re.M), text  # the lesson's 9 oversold, on each server
    assert re.search(r"^redis +2/2 +9 / 9 / 9 ", text, re.M), text
    assert [(store, there) for store, _, there in ran] == [("postgres", True), ("redis", True)] * 2
    assert postgres.tables([d for store, d, _ in ran if store == "postgres"]) == 0
    assert [redis_server.keys(d) for store, d, _ in ran if store == "redis"] == [[], []]


def test_cli_sweep_refuses_a_store_whose_server_is_not_set_before_any_trial(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TICKETRUSH_REDIS_URL", raising=False)
    trials: list[Path] = []
    monkeypatch.setattr(experiments, "run_simulation", lambda config, run_dir, **options: trials.append(run_dir))
    code, _ = _cli("sweep", "--vary", "store=memory,redis", "--trials", "1", "--buyers", "3")
    assert code == 2
    assert "ticketrush: --store: store redis needs TICKETRUSH_REDIS_URL" in capsys.readouterr().err
    assert trials == []

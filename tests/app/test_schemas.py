"""POST /simulations refuses bad input with a 422 that names the field (in-process: no run is started)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

BUYERS = "buyers: a whole number of buyers from 1 to 10,000,000"
DELAY = "a number of milliseconds from 0 to 60000, or a [min, max] range of them with min at most max"
SETTINGS = (
    "buyers, tickets, store, strategy, lock, permits, lock_ttl_ms, max_retries, executor, workers, think_ms, "
    "hold_ms, seed, together, lock_timeout_s, schedule, mode"
)
BAD_INPUT = [
    ({"buyers": 0}, "buyers", f"{BUYERS} (got 0)"),
    ({"buyers": -1}, "buyers", f"{BUYERS} (got -1)"),
    ({"buyers": "10"}, "buyers", f'{BUYERS} (got "10")'),
    ({"buyers": 10**9}, "buyers", f"{BUYERS} (got 1000000000)"),
    ({"buyers": 1.5}, "buyers", f"{BUYERS} (got 1.5)"),
    ({"tickets": -1}, "tickets", "tickets: a whole number of tickets from 0 to 1,000,000,000 (got -1)"),
    ({"tickets": False}, "tickets", "tickets: a whole number of tickets from 0 to 1,000,000,000 (got false)"),
    ({"lock": "mutex"}, "lock", 'lock: none, process, file, semaphore, advisory or redis (got "mutex")'),
    ({"store": "mongodb"}, "store", 'store: file, memory, sqlite, postgres or redis (got "mongodb")'),
    (
        {"store": "memory", "strategy": "optimistic"},
        "strategy",
        "strategy: strategy 'optimistic' does not run on store 'memory', which takes strategy 'read-write' or "
        "'seller'; strategy 'optimistic' runs on store 'file', 'sqlite', 'postgres' or 'redis'",
    ),
    (
        {"strategy": "seller", "lock": "file"},
        "lock",
        "lock: lock 'file' guards strategy 'read-write' only; strategy 'seller' takes no lock (use lock 'none', or "
        "strategy 'read-write' with lock 'file')",
    ),
    (
        {"lock": "semaphore", "permits": 0},
        "permits",
        "permits: the number of buyers the semaphore lets in at once, a whole number from 1 to 1000, with lock "
        "semaphore only (got 0)",
    ),
    (
        {"strategy": "optimistic", "max_retries": -1},
        "max_retries",
        "max_retries: a whole number of retries from 0 to 1,000,000, for strategy optimistic or serializable only "
        "(got -1)",
    ),
    ({"executor": "threads"}, "executor", 'executor: process, pool or dask (got "threads")'),
    ({"think_ms": -5}, "think_ms", f"think_ms: {DELAY} (got -5)"),
    ({"think_ms": [50, 10]}, "think_ms", f"think_ms: {DELAY} (got [50, 10])"),
    ({"hold_ms": [1, 2, 3]}, "hold_ms", f"hold_ms: {DELAY} (got [1, 2, 3])"),
    ({"hold_ms": [5, -1]}, "hold_ms", f"hold_ms: {DELAY} (got [5, -1])"),
    (
        {"seed": "42"},
        "seed",
        'seed: a whole number from 0 to 9223372036854775807; without one, a random one is used (got "42")',
    ),
    ({"together": "yes"}, "together", 'together: true or false (got "yes")'),
    ({"lock_timeout_s": 0}, "lock_timeout_s", "lock_timeout_s: a number of seconds above 0, at most 3600 (got 0)"),
    (
        {"workers": 4},
        "workers",
        "workers: the pool size or the number of tasks, a whole number from 1 to 256, "
        "given only with executor pool or dask (got 4)",
    ),
    (
        {"workers": 4, "executor": "process"},
        "workers",
        "workers: the pool size or the number of tasks, a whole number from 1 to 256, "
        "given only with executor pool or dask (got 4)",
    ),
    ({"colour": "red"}, "colour", f"colour: not a setting of a simulation (the settings are {SETTINGS})"),
    (
        {"buyers": 1001},
        "buyers",
        "buyers: at most 1,000 buyers are allowed with executor 'process', one process per buyer "
        "(TICKETRUSH_MAX_PROCESS_BUYERS); use executor 'pool' for more",
    ),
    (
        {"buyers": 2_000_000, "executor": "pool"},
        "buyers",
        "buyers: at most 1,000,000 buyers are allowed on this server (TICKETRUSH_MAX_BUYERS)",
    ),
]


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(max_process_buyers=1000, max_buyers=1_000_000)


def errors_for(response: Any, field: str) -> list[str]:
    return [e["msg"] for e in response.json()["detail"] if e["loc"][:2] == ["body", field]]


@pytest.mark.parametrize(("body", "field", "message"), BAD_INPUT, ids=[repr(b) for b, _, _ in BAD_INPUT])
def test_schemas_bad_input_is_422_with_one_message_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/simulations", json=body)

    assert response.status_code == 422, response.text
    assert errors_for(response, field) == [message]
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]
    assert response.json()["detail"][0]["input"] == body[field]
    assert client.get("/simulations").json()["count"] == 0


def test_schemas_each_bad_field_gets_its_own_message(client: TestClient) -> None:
    response = client.post("/simulations", json={"buyers": 0, "think_ms": [9, 1], "hold_ms": -1, "lock": "x"})

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "buyers"],
        ["body", "lock"],
        ["body", "think_ms"],
        ["body", "hold_ms"],
    ]


def test_schemas_pool_size_with_the_pool_executor_is_taken(client: TestClient) -> None:
    response = client.post("/simulations", json={"executor": "pool", "workers": 2, "buyers": 4})

    assert response.status_code == 202, response.text
    assert response.json()["config"]["workers"] == 2
    assert client.post(f"/simulations/{response.json()['id']}/cancel").json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("content", "content_type", "words"),
    [
        (b'{"buyers": 10', "application/json", "not valid JSON"),
        (b"buyers=10", "application/x-www-form-urlencoded", "JSON object"),
        (b"hello", "text/plain", "JSON object"),
        (b"[10, 1]", "application/json", "JSON object"),
        (b"", "application/json", "body is missing"),
    ],
)
def test_schemas_body_that_is_not_a_json_object_is_422(
    client: TestClient, content: bytes, content_type: str, words: str
) -> None:
    response = client.post("/simulations", content=content, headers={"content-type": content_type})

    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"][0] == "body"
    assert words in error["msg"]


def test_schemas_empty_object_takes_every_default_and_a_seed(client: TestClient) -> None:
    response = client.post("/simulations", json={})

    assert response.status_code == 202, response.text
    config = response.json()["config"]
    assert {k: config[k] for k in ("buyers", "tickets", "lock", "executor", "together")} == {
        "buyers": 10,
        "tickets": 1,
        "lock": "none",
        "executor": "process",
        "together": True,
    }
    assert isinstance(config["seed"], int)
    sim_id = response.json()["id"]
    assert client.post(f"/simulations/{sim_id}/cancel").json()["status"] == "cancelled"

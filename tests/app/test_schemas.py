"""POST /simulations refuses bad input with a 422 that names the field (in-process: no run is started)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

BAD_INPUT = [
    ({"buyers": 0}, "buyers", "greater than or equal to 1"),
    ({"buyers": -1}, "buyers", "greater than or equal to 1"),
    ({"buyers": "10"}, "buyers", "valid integer"),
    ({"buyers": 10**9}, "buyers", "less than or equal to"),
    ({"buyers": 1.5}, "buyers", "valid integer"),
    ({"tickets": -1}, "tickets", "greater than or equal to 0"),
    ({"tickets": False}, "tickets", "valid integer"),
    ({"lock": "mutex"}, "lock", "'none', 'process', 'file', 'semaphore', 'advisory' or 'redis'"),
    ({"store": "mongodb"}, "store", "'file', 'memory', 'sqlite', 'postgres' or 'redis'"),
    ({"store": "memory", "strategy": "optimistic"}, "strategy", "strategy 'optimistic' does not run on store 'memory'"),
    ({"executor": "threads"}, "executor", "'process' or 'pool'"),
    ({"think_ms": [50, 10]}, "think_ms", "minimum 50 is greater than its maximum 10"),
    ({"hold_ms": [1, 2, 3]}, "hold_ms", "at most 2 items"),
    ({"hold_ms": -5}, "hold_ms", "greater than or equal to 0"),
    ({"seed": "42"}, "seed", "valid integer"),
    ({"together": "yes"}, "together", "valid boolean"),
    ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ({"buyers": 1001}, "buyers", "TICKETRUSH_MAX_PROCESS_BUYERS"),
    ({"buyers": 2_000_000, "executor": "pool"}, "buyers", "TICKETRUSH_MAX_BUYERS"),
]


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(max_process_buyers=1000, max_buyers=1_000_000)


def errors_for(response: Any, field: str) -> list[str]:
    return [e["msg"] for e in response.json()["detail"] if e["loc"][:2] == ["body", field]]


@pytest.mark.parametrize(("body", "field", "words"), BAD_INPUT, ids=[repr(b) for b, _, _ in BAD_INPUT])
def test_schemas_bad_input_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, words: str
) -> None:
    response = client.post("/simulations", json=body)

    assert response.status_code == 422, response.text
    messages = errors_for(response, field)
    assert messages, response.text
    assert any(words in m for m in messages), messages
    assert client.get("/simulations").json()["count"] == 0


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

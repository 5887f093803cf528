"""POST /interleavings: every schedule of a small race, counted, and each witness comes true as a real run."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_interleavings_of_two_buyers_without_a_lock_some_but_not_all_oversell(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    answer = client.post("/interleavings", json={"buyers": 2, "tickets": 1})
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == 20
    assert [(o["oversold"], o["schedules"]) for o in body["outcomes"]] == [(1, 12), (0, 8)]
    oversold = body["outcomes"][0]["witness"]
    run = client.post("/simulations", json={"buyers": 2, "tickets": 1, "schedule": oversold}).json()
    assert run["config"]["schedule"] == oversold


def test_interleavings_under_a_lock_never_oversell(make_client: Callable[..., TestClient]) -> None:
    body = make_client().post("/interleavings", json={"buyers": 3, "tickets": 1, "lock": "process"}).json()
    assert all(o["oversold"] == 0 for o in body["outcomes"]) and body["total"] > 1


def test_interleavings_refuse_more_than_four_buyers_and_the_seller_naming_the_field(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    five = client.post("/interleavings", json={"buyers": 5})
    assert five.status_code == 422
    (error,) = five.json()["detail"]
    assert error["loc"] == ["body", "buyers"]
    assert error["msg"] == "buyers: at most 4 buyers: their interleavings grow as a factorial"
    seller = client.post("/interleavings", json={"buyers": 2, "strategy": "seller"}).json()["detail"][0]
    assert seller["loc"] == ["body", "strategy"] and "read-write or optimistic" in seller["msg"]


def test_a_schedule_that_cannot_be_followed_is_a_422_with_the_reason(make_client: Callable[..., TestClient]) -> None:
    answer = make_client().post(
        "/simulations", json={"buyers": 2, "tickets": 1, "lock": "process", "schedule": [1, 1, 2, 2]}
    )
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "schedule"]
    assert error["msg"] == "schedule: step 4 of the schedule: buyer 2 waits for the process lock held by buyer 1"

"""/cures: what the dashboard may offer is exactly what a simulation config accepts."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from workers import SimulationConfig, support
from workers.locks import LockKind
from workers.stores import StoreKind
from workers.strategies import StrategyKind


def offered(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (store["name"], strategy["name"], lock)
        for store in body["stores"]
        for strategy in store["strategies"]
        for lock in strategy["locks"]
    }


def test_cures_offers_every_combination_the_config_accepts_and_no_other(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()

    response = client.get("/cures")

    assert response.status_code == 200
    listed = offered(response.json())
    for store, strategy, lock in product(get_args(StoreKind), get_args(StrategyKind), get_args(LockKind)):
        combination = {"store": store, "strategy": strategy, "lock": lock}
        if (store, strategy, lock) in listed:
            SimulationConfig.model_validate(combination)
        else:
            with pytest.raises(ValidationError):
                SimulationConfig.model_validate(combination)
            refused = client.post("/simulations", json=combination)
            assert refused.status_code == 422, combination
    assert ("file", "optimistic", "none") in listed
    assert ("memory", "optimistic", "none") not in listed


def test_cures_lists_what_a_comparison_runs_in_its_order(make_client: Callable[..., TestClient]) -> None:
    stores = {store["name"]: store for store in make_client().get("/cures").json()["stores"]}

    assert [c["name"] for c in stores["file"]["cures"]] == [
        "read-write/none",
        "read-write/process",
        "read-write/file",
        "read-write/semaphore",
        "optimistic",
        "seller",
    ]
    for name, store in stores.items():
        assert [(c["name"], c["strategy"], c["lock"]) for c in store["cures"]] == [
            (cure.name, cure.strategy, cure.lock) for cure in support.cures(name)
        ]


def test_cures_defaults_are_what_an_empty_config_runs(make_client: Callable[..., TestClient]) -> None:
    defaults = make_client().get("/cures").json()["defaults"]

    empty = SimulationConfig()
    assert (defaults["store"], defaults["strategy"], defaults["lock"]) == (empty.store, empty.strategy, empty.lock)
    assert defaults["max_retries"] == empty.max_retries
    assert SimulationConfig(lock="semaphore").resolved().permits == defaults["permits"]


def test_cures_shows_a_store_added_to_the_support_table(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(support.STRATEGIES_BY_STORE, "sqlite", ("read-write", "atomic"))
    monkeypatch.setitem(support.LOCKS_BY_STRATEGY, "atomic", ("none",))

    stores = {store["name"]: store for store in make_client().get("/cures").json()["stores"]}

    assert [s["name"] for s in stores["sqlite"]["strategies"]] == ["read-write", "atomic"]
    assert [c["name"] for c in stores["sqlite"]["cures"]] == [
        "read-write/none",
        "read-write/process",
        "read-write/file",
        "read-write/semaphore",
        "atomic",
    ]


@pytest.mark.parametrize(("lang", "colon"), [("en", ": "), ("zh", ":")])
def test_cures_says_which_stores_this_server_cannot_run_in_the_words_of_their_refusal(
    make_client: Callable[..., TestClient], lang: str, colon: str
) -> None:
    client = make_client(postgres_url=None, redis_url=None)
    headers = {"Accept-Language": lang}

    stores = {store["name"]: store for store in client.get("/cures", headers=headers).json()["stores"]}

    for name in ("file", "memory", "sqlite"):
        assert (stores[name]["usable"], stores[name]["problem"]) == (True, None), name
    for name, variable in (("postgres", "TICKETRUSH_POSTGRES_URL"), ("redis", "TICKETRUSH_REDIS_URL")):
        assert stores[name]["usable"] is False
        assert variable in stores[name]["problem"]
        refused = client.post("/simulations", json={"store": name}, headers=headers)
        assert refused.status_code == 422
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", "store"]
        assert error["msg"] == f"store{colon}{stores[name]['problem']}"
    assert client.get("/simulations").json()["count"] == 0


def test_cures_a_store_whose_server_is_set_is_usable(make_client: Callable[..., TestClient]) -> None:
    client = make_client(postgres_url="postgresql://postgres@127.0.0.1:5432/test", redis_url=None)

    stores = {store["name"]: store for store in client.get("/cures").json()["stores"]}

    assert (stores["postgres"]["usable"], stores["postgres"]["problem"]) == (True, None)
    assert stores["redis"]["usable"] is False
    assert stores["redis"]["problem"] == "store redis needs TICKETRUSH_REDIS_URL, the URL of its server; it is not set"

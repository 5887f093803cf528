from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from workers import SimulationConfig


def _error_fields(payload: dict[str, object]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig.model_validate_json(json.dumps(payload))
    return {str(error["loc"][0]) for error in caught.value.errors()}


def test_config_defaults_follow_the_lesson() -> None:
    config = SimulationConfig()
    assert (config.buyers, config.tickets, config.lock, config.executor) == (10, 1, "none", "process")
    assert config.think_ms == 100
    assert config.hold_ms == [100, 300]
    assert config.together is True


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"buyers": 0}, "buyers"),
        ({"buyers": -1}, "buyers"),
        ({"buyers": "10"}, "buyers"),
        ({"buyers": 10**9}, "buyers"),
        ({"tickets": -1}, "tickets"),
        ({"tickets": False}, "tickets"),
        ({"lock": "mutex"}, "lock"),
        ({"executor": "thread"}, "executor"),
        ({"think_ms": [300, 100]}, "think_ms"),
        ({"hold_ms": [1, 2, 3]}, "hold_ms"),
        ({"hold_ms": -5}, "hold_ms"),
        ({"lock_timeout_s": 0}, "lock_timeout_s"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_config_rejects_bad_input_naming_the_field(payload: dict[str, object], field: str) -> None:
    assert field in _error_fields(payload)


def test_config_rejects_nan_and_infinity_delays() -> None:
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValidationError) as caught:
            SimulationConfig(think_ms=bad)
        assert caught.value.errors()[0]["loc"][0] == "think_ms"


def test_config_resolved_chooses_seed_and_pool_size() -> None:
    resolved = SimulationConfig(executor="pool", buyers=3, workers=8).resolved()
    assert resolved.seed is not None and 0 <= resolved.seed < 2**53  # a seed the dashboard's JavaScript reads exactly
    assert resolved.workers == 3  # never more workers than buyers
    assert SimulationConfig(seed=42).resolved().seed == 42
    assert SimulationConfig(executor="process").resolved().workers is None


def test_config_refuses_a_pool_size_for_the_process_executor() -> None:
    with pytest.raises(ValidationError, match="workers is the pool's size") as caught:
        SimulationConfig(executor="process", workers=4)
    assert caught.value.errors()[0]["loc"] == ("workers",)


@pytest.mark.parametrize(
    ("fields", "where", "words"),
    [
        ({"store": "memory", "strategy": "optimistic"}, "strategy",
         "strategy 'optimistic' does not run on store 'memory', which takes strategy 'read-write' or 'seller'; "
         "strategy 'optimistic' runs on store 'file'"),
        ({"strategy": "seller", "lock": "process"}, "lock",
         "lock 'process' guards strategy 'read-write' only; strategy 'seller' takes no lock "
         "(use lock 'none', or strategy 'read-write' with lock 'process')"),
        ({"lock": "process", "permits": 2}, "permits", "permits are the semaphore's; lock 'process' has none"),
        ({"strategy": "seller", "max_retries": 5}, "max_retries", "strategy 'seller' never retries a write"),
    ],
)  # fmt: skip
def test_config_refuses_a_pair_that_does_not_go_together_naming_both_and_what_works(
    fields: dict[str, object], where: str, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig.model_validate(fields)
    (error,) = caught.value.errors()
    assert error["loc"] == (where,)
    assert words in error["msg"]


def test_config_semaphore_defaults_to_the_lessons_three_permits() -> None:
    assert SimulationConfig(lock="semaphore").resolved().permits == 3
    assert SimulationConfig(lock="semaphore", permits=1).resolved().permits == 1
    assert SimulationConfig(lock="process").resolved().permits is None
    resolved = SimulationConfig(strategy="optimistic", max_retries=5).resolved()
    assert SimulationConfig.model_validate_json(resolved.model_dump_json()) == resolved  # stored configs reload


def test_config_think_range_with_equal_ends_is_accepted() -> None:
    assert SimulationConfig(think_ms=[50, 50]).think_ms == [50, 50]


@pytest.mark.parametrize("store", ["postgres", "redis"])
@pytest.mark.parametrize("lock", ["process", "file", "semaphore"])
def test_config_refuses_a_one_host_lock_on_the_dask_executor(store: str, lock: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig(executor="dask", store=store, lock=lock)
    (error,) = caught.value.errors()
    assert error["loc"] == ("executor",)
    assert f"lock '{lock}' works on one host only" in error["msg"]
    assert "executor 'dask' runs buyers on several" in error["msg"]


def test_config_refuses_the_seller_and_the_stores_without_a_server_on_the_dask_executor() -> None:
    with pytest.raises(ValidationError, match=r"strategy 'seller' works on one host only .*over pipes"):
        SimulationConfig(executor="dask", store="redis", strategy="seller")
    for store in ("file", "memory", "sqlite"):
        with pytest.raises(
            ValidationError, match=f"reach only a store on a server: store 'postgres' or 'redis', not '{store}'"
        ):
            SimulationConfig(executor="dask", store=store)


@pytest.mark.parametrize(
    ("store", "strategy", "lock"),
    [
        ("redis", "atomic", "none"),
        ("redis", "optimistic", "none"),
        ("redis", "read-write", "redis"),
        ("redis", "read-write", "none"),
        ("postgres", "for-update", "none"),
        ("postgres", "serializable", "none"),
        ("postgres", "read-write", "advisory"),
    ],
)
def test_config_takes_the_cures_that_work_across_hosts_on_the_dask_executor(
    store: str, strategy: str, lock: str
) -> None:
    config = SimulationConfig(executor="dask", store=store, strategy=strategy, lock=lock, workers=4)
    assert config.resolved().workers == 4  # the tasks asked for; without it, the cluster's threads decide

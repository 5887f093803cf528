"""Which store, strategy and lock go together: every refusal names the pair and what would work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workers import SimulationConfig
from workers.speech import LANGUAGES, catalogue
from workers.support import LOCKS_BY_STRATEGY, cures


@pytest.mark.parametrize(
    ("fields", "where", "words"),
    [
        ({"store": "redis", "strategy": "serializable"}, "strategy",
         "strategy 'serializable' does not run on store 'redis', which takes strategy 'read-write', 'atomic', "
         "'optimistic' or 'seller'; strategy 'serializable' runs on store 'postgres'"),
        ({"store": "file", "strategy": "atomic"}, "strategy",
         "strategy 'atomic' does not run on store 'file', which takes strategy 'read-write', 'optimistic' or "
         "'seller'; strategy 'atomic' runs on store 'sqlite', 'postgres' or 'redis'"),
        ({"store": "memory", "strategy": "for-update"}, "strategy",
         "strategy 'for-update' runs on store 'sqlite' or 'postgres'"),
        ({"store": "file", "lock": "advisory"}, "lock",
         "lock 'advisory' guards store 'postgres' only (its server keeps the lock); store 'file' takes lock "
         "'none', 'process', 'file' or 'semaphore'"),
        ({"store": "postgres", "lock": "redis"}, "lock",
         "lock 'redis' guards store 'redis' only (its server keeps the lock); store 'postgres' takes lock "
         "'none', 'process', 'file', 'semaphore' or 'advisory'"),
        ({"store": "postgres", "strategy": "for-update", "lock": "advisory"}, "lock",
         "lock 'advisory' guards strategy 'read-write' only; strategy 'for-update' takes no lock"),
        ({"store": "redis", "lock": "process", "lock_ttl_ms": 100}, "lock_ttl_ms",
         "lock_ttl_ms is the Redis lock's; lock 'process' does not expire (use lock 'redis')"),
        ({"store": "sqlite", "strategy": "atomic", "max_retries": 5}, "max_retries",
         "max_retries is for strategy 'optimistic' or 'serializable'; strategy 'atomic' never retries a write"),
    ],
)  # fmt: skip
def test_a_pair_of_the_new_stores_that_does_not_go_together_is_refused_naming_what_works(
    fields: dict[str, object], where: str, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig.model_validate(fields)
    (error,) = caught.value.errors()
    assert error["loc"] == (where,)
    assert words in error["msg"]


def test_the_stores_own_cures_are_accepted_with_their_settings() -> None:
    config = SimulationConfig(store="postgres", strategy="serializable", max_retries=5).resolved()
    assert config.max_retries == 5 and config.lock_ttl_ms is None
    assert SimulationConfig(store="redis", lock="redis").resolved().lock_ttl_ms == 30_000
    assert SimulationConfig(store="redis", lock="redis", lock_ttl_ms=50).resolved().lock_ttl_ms == 50


def test_a_comparison_runs_every_cure_each_store_has() -> None:
    assert [c.name for c in cures("postgres")] == [
        "read-write/none", "read-write/process", "read-write/file", "read-write/semaphore", "read-write/advisory",
        "atomic", "optimistic", "for-update", "serializable", "seller",
    ]  # fmt: skip
    assert [c.name for c in cures("redis")] == [
        "read-write/none", "read-write/process", "read-write/file", "read-write/semaphore", "read-write/redis",
        "atomic", "optimistic", "seller",
    ]  # fmt: skip
    assert [c.name for c in cures("sqlite")] == [
        "read-write/none", "read-write/process", "read-write/file", "read-write/semaphore",
        "atomic", "optimistic", "for-update", "seller",
    ]  # fmt: skip
    assert [c.name for c in cures("file")] == [
        "read-write/none", "read-write/process", "read-write/file", "read-write/semaphore", "optimistic", "seller",
    ]  # fmt: skip


def test_every_lock_is_named_in_every_language() -> None:
    """The explanation names a run's lock from the catalogues: a lock without its name there fails the run."""
    locks = {lock for strategy_locks in LOCKS_BY_STRATEGY.values() for lock in strategy_locks} - {"none"}
    for lang in LANGUAGES:
        missing = sorted(lock for lock in locks if f"lock.{lock}" not in catalogue(lang))
        assert missing == [], f"{lang}: {missing}"

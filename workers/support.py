"""Which combinations make sense: the stores each strategy runs on, and the locks each strategy takes.

Config validation asks here, so that a refusal names the pair and what would work; `cures` lists what a
comparison runs on a store. Adding a store or a strategy adds its row here.
"""

from __future__ import annotations

from typing import NamedTuple

STRATEGIES_BY_STORE: dict[str, tuple[str, ...]] = {
    "file": ("read-write", "optimistic", "seller"),
    "memory": ("read-write", "seller"),
    "sqlite": ("read-write", "atomic", "optimistic", "for-update", "seller"),
    "postgres": ("read-write", "atomic", "optimistic", "for-update", "serializable", "seller"),
    "redis": ("read-write", "atomic", "optimistic", "seller"),
}
LOCKS_BY_STRATEGY: dict[str, tuple[str, ...]] = {
    "read-write": ("none", "process", "file", "semaphore", "advisory", "redis"),
    "optimistic": ("none",),
    "seller": ("none",),
    "atomic": ("none",),
    "for-update": ("none",),
    "serializable": ("none",),
}
# Locks kept by a store's own server, and so only with that store; every other lock guards every store.
STORE_OF_LOCK: dict[str, str] = {"advisory": "postgres", "redis": "redis"}
# Strategies that run a refused write again, up to max_retries times.
RETRYING: tuple[str, ...] = ("optimistic", "serializable")


class Cure(NamedTuple):
    """One way of running the race on a store: a strategy and, for read-write, its lock."""

    strategy: str
    lock: str

    @property
    def name(self) -> str:
        return self.strategy if self.strategy != "read-write" else f"{self.strategy}/{self.lock}"


def _listed(names: tuple[str, ...]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def locks_on(store: str, strategy: str) -> tuple[str, ...]:
    """The locks that can guard `strategy` on `store`."""
    return tuple(lock for lock in LOCKS_BY_STRATEGY[strategy] if STORE_OF_LOCK.get(lock, store) == store)


def strategy_problem(store: str, strategy: str) -> str | None:
    """Why `strategy` cannot run on `store`, in words that say what would; None when it can."""
    if strategy in STRATEGIES_BY_STORE[store]:
        return None
    stores = tuple(s for s, strategies in STRATEGIES_BY_STORE.items() if strategy in strategies)
    return (
        f"strategy '{strategy}' does not run on store '{store}', which takes strategy "
        f"{_listed(STRATEGIES_BY_STORE[store])}; strategy '{strategy}' runs on store {_listed(stores)}"
    )


def lock_problem(strategy: str, lock: str, store: str = "file") -> str | None:
    """Why `lock` cannot guard `strategy` on `store`; None when it can."""
    if lock not in LOCKS_BY_STRATEGY[strategy]:
        return (
            f"lock '{lock}' guards strategy 'read-write' only; strategy '{strategy}' takes no lock "
            f"(use lock 'none', or strategy 'read-write' with lock '{lock}')"
        )
    home = STORE_OF_LOCK.get(lock, store)
    if home != store:
        return (
            f"lock '{lock}' guards store '{home}' only (its server keeps the lock); store '{store}' takes lock "
            f"{_listed(locks_on(store, strategy))}"
        )
    return None


def cures(store: str) -> list[Cure]:
    """Every cure that runs on `store` (and the race with no cure first): what a comparison runs."""
    return [Cure(strategy, lock) for strategy in STRATEGIES_BY_STORE[store] for lock in locks_on(store, strategy)]

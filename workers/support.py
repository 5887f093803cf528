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
# The stores each executor's buyers can reach; an executor not listed runs on every store. Buyers on a cluster's
# hosts reach only a store on a server.
STORES_BY_EXECUTOR: dict[str, tuple[str, ...]] = {"dask": ("postgres", "redis")}
# What works between the processes of one host only, and why: refused with an executor whose buyers run on many.
ONE_HOST: dict[str, str] = {
    "process": "a multiprocessing.Lock is shared through fork, by the processes of one host",
    "file": "an flock guards a file on one host's disk",
    "semaphore": "a multiprocessing.Semaphore is shared through fork, by the processes of one host",
    "seller": "buyers send their requests to the seller over pipes, which reach the processes of one host",
}
MANY_HOSTS: tuple[str, ...] = ("dask",)  # executors whose buyers may run on several hosts


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


def executor_problem(executor: str, store: str, strategy: str | None, lock: str | None) -> str | None:
    """Why `executor` cannot run `strategy` with `lock` on `store`; None when it can."""
    stores = STORES_BY_EXECUTOR.get(executor)
    if stores is not None and store not in stores:
        return (
            f"executor '{executor}' runs buyers on other hosts, which reach only a store on a server: store "
            f"{_listed(stores)}, not '{store}'"
        )
    if executor in MANY_HOSTS:
        for name, what in (("strategy", strategy), ("lock", lock)):
            if what in ONE_HOST:
                strategies = tuple(s for s in STRATEGIES_BY_STORE[store] if s not in ONE_HOST)
                locks = tuple(k for k in locks_on(store, "read-write") if k not in ONE_HOST and k != "none")
                return (
                    f"{name} '{what}' works on one host only ({ONE_HOST[what]}), and executor '{executor}' runs "
                    f"buyers on several; on store '{store}' use strategy {_listed(strategies)} (read-write with "
                    f"lock {_listed(locks)}), or executor 'pool'"
                )
    return None


def cures(store: str) -> list[Cure]:
    """Every cure that runs on `store` (and the race with no cure first): what a comparison runs."""
    return [Cure(strategy, lock) for strategy in STRATEGIES_BY_STORE[store] for lock in locks_on(store, strategy)]

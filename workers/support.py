"""Which combinations make sense: the stores each strategy runs on, and the locks each strategy takes.

Config validation asks here, so that a refusal names the pair and what would work; `cures` lists what a
comparison runs on a store. Adding a store or a strategy adds its row here.
"""

from __future__ import annotations

from typing import NamedTuple

from workers.speech import Fact, fact, one_of

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
# What works between the processes of one host only, and the catalogue's words for why (workers/locales): refused
# with an executor whose buyers run on many.
ONE_HOST: dict[str, str] = {
    "process": "support.one_host.process",
    "file": "support.one_host.file",
    "semaphore": "support.one_host.semaphore",
    "seller": "support.one_host.seller",
}
MANY_HOSTS: tuple[str, ...] = ("dask",)  # executors whose buyers may run on several hosts


class Cure(NamedTuple):
    """One way of running the race on a store: a strategy and, for read-write, its lock."""

    strategy: str
    lock: str

    @property
    def name(self) -> str:
        return self.strategy if self.strategy != "read-write" else f"{self.strategy}/{self.lock}"


def _listed(names: tuple[str, ...]) -> dict[str, object]:
    return one_of(names, quoted=True)


def locks_on(store: str, strategy: str) -> tuple[str, ...]:
    """The locks that can guard `strategy` on `store`."""
    return tuple(lock for lock in LOCKS_BY_STRATEGY[strategy] if STORE_OF_LOCK.get(lock, store) == store)


def strategy_problem(store: str, strategy: str) -> Fact | None:
    """Why `strategy` cannot run on `store`, as a fact that says what would (workers.speech); None when it can."""
    if strategy in STRATEGIES_BY_STORE[store]:
        return None
    stores = tuple(s for s, strategies in STRATEGIES_BY_STORE.items() if strategy in strategies)
    return fact(
        "support.strategy_on_store",
        strategy=strategy,
        store=store,
        takes=_listed(STRATEGIES_BY_STORE[store]),
        runs_on=_listed(stores),
    )


def lock_problem(strategy: str, lock: str, store: str = "file") -> Fact | None:
    """Why `lock` cannot guard `strategy` on `store`; None when it can."""
    if lock not in LOCKS_BY_STRATEGY[strategy]:
        return fact("support.lock_of_read_write", lock=lock, strategy=strategy)
    home = STORE_OF_LOCK.get(lock, store)
    if home != store:
        return fact(
            "support.lock_of_store", lock=lock, home=home, store=store, locks=_listed(locks_on(store, strategy))
        )
    return None


def executor_problem(executor: str, store: str, strategy: str | None, lock: str | None) -> Fact | None:
    """Why `executor` cannot run `strategy` with `lock` on `store`; None when it can."""
    stores = STORES_BY_EXECUTOR.get(executor)
    if stores is not None and store not in stores:
        return fact("support.executor_on_store", executor=executor, stores=_listed(stores), store=store)
    if executor in MANY_HOSTS:
        for name, what in (("strategy", strategy), ("lock", lock)):
            if what in ONE_HOST:
                strategies = tuple(s for s in STRATEGIES_BY_STORE[store] if s not in ONE_HOST)
                locks = tuple(k for k in locks_on(store, "read-write") if k not in ONE_HOST and k != "none")
                return fact(
                    "support.one_host",
                    name=fact(f"word.{name}"),
                    what=what,
                    why=fact(ONE_HOST[what]),
                    executor=executor,
                    store=store,
                    strategies=_listed(strategies),
                    locks=_listed(locks),
                )
    return None


def cures(store: str) -> list[Cure]:
    """Every cure that runs on `store` (and the race with no cure first): what a comparison runs."""
    return [Cure(strategy, lock) for strategy in STRATEGIES_BY_STORE[store] for lock in locks_on(store, strategy)]

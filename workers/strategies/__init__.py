"""How a buyer buys: one module per strategy, each written once against the store interface.

    read-write   the lesson: read the count, hold, write one less back, under a lock (or none)
    optimistic   read the count with its version, hold, write back only if the version is unchanged, else retry
    seller       buyers send requests to one seller process, which alone reads and writes the store
    atomic       the store checks and decrements in one step (a conditional UPDATE, a Lua script)
    for-update   read, hold, write in a transaction that holds the store's own write lock from the read on
    serializable read, hold, write in a SERIALIZABLE transaction, rerun when the store refuses its commit

A strategy object is built in the launcher (`make_strategy`), before the buyers fork, and reaches them by
inheritance with whatever they share (a lock, the seller's pipes). Its `buy` is the buyer's hot path.
"""

from __future__ import annotations

from importlib import import_module
from typing import Literal

from workers.strategies.base import Plan, Strategy

StrategyKind = Literal["read-write", "optimistic", "seller", "atomic", "for-update", "serializable"]

_HOMES: dict[str, tuple[str, str]] = {
    "read-write": ("workers.strategies.read_write", "ReadWrite"),
    "optimistic": ("workers.strategies.optimistic", "Optimistic"),
    "seller": ("workers.strategies.seller", "Seller"),
    "atomic": ("workers.strategies.atomic", "Atomic"),
    "for-update": ("workers.strategies.for_update", "ForUpdate"),
    "serializable": ("workers.strategies.serializable", "Serializable"),
}


def strategy_class(kind: str) -> type[Strategy]:
    module, name = _HOMES[kind]
    cls: type[Strategy] = getattr(import_module(module), name)
    return cls


__all__ = ["Plan", "Strategy", "StrategyKind", "strategy_class"]

"""The store decides in one step: a buyer asks it to take a ticket if one is left, and the store checks and
decrements with no other buyer in between (SQLite's and PostgreSQL's conditional UPDATE ... WHERE count > 0
RETURNING count, Redis's Lua script). There is no read-to-write window to hold open, so `hold_ms` is not
spent, and no lock to wait for: buyers whose steps reach the store at once are taken in turn by the store."""

from __future__ import annotations

import os
import time

from workers.messages import BuyerRecord, Outcome
from workers.strategies.base import Strategy, pause, reported


class Atomic(Strategy):
    kind = "atomic"
    steps = ("search", "take")

    def buy(self, buyer: int) -> BuyerRecord:
        """Search, then take one ticket in one step; the step's moment is both its read and its write."""
        plan, store = self.plan, self.store
        now = time.monotonic_ns
        rng = plan.rng(buyer)
        t_start = now()
        seen = read = wrote = t_searched = t_taken = None
        outcome: Outcome = "error"
        error = error_fact = None
        try:
            seen = store.read()
            pause(rng, plan.think_ms)
            t_searched = now()
            left = store.take_one()
            t_taken = now()
            if left is None:
                outcome, read = "sold_out", 0
            else:
                outcome, read, wrote = "success", left + 1, left
        except Exception as e:  # a buyer reports any failure instead of dying with it
            error, error_fact = reported(e)
        return BuyerRecord(
            buyer, os.getpid(), outcome, seen, read, wrote, error,
            t_start, t_searched, None, None, t_taken, t_taken if wrote is not None else None, now(),
            error_fact=error_fact,
        )  # fmt: skip

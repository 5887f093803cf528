"""The store's own write lock around the lesson's read, hold, write: a transaction that locks the count before
reading it and keeps it locked until the commit (SQLite's BEGIN IMMEDIATE, PostgreSQL's SELECT ... FOR UPDATE).
Buyers wait for the store, not for a lock of ours; one whose wait runs out (`lock_timeout_s`) gives up."""

from __future__ import annotations

import os
import time

from workers.errors import LockTimeout
from workers.messages import BuyerRecord, Outcome
from workers.strategies.base import Strategy, pause, reported


class ForUpdate(Strategy):
    kind = "for-update"
    steps = ("search", "lock", "read", "write")

    def buy(self, buyer: int) -> BuyerRecord:
        """Search, then in one transaction: lock and read the count, hold, write one less, commit."""
        plan, store = self.plan, self.store
        now = time.monotonic_ns
        rng = plan.rng(buyer)
        t_start = now()
        seen = read = wrote = t_searched = t_lock_requested = t_lock_acquired = t_read = t_write = None
        outcome: Outcome = "error"
        error = error_fact = None
        try:
            seen = store.read()
            pause(rng, plan.think_ms)
            t_searched = t_lock_requested = now()
            t_written = None
            with store.transaction("for-update", plan.lock_timeout_s):
                read = store.read()  # SQLite holds its write lock from BEGIN; PostgreSQL locks the row here
                t_lock_acquired = t_read = now()
                if read > 0:
                    pause(rng, plan.hold_ms)
                    store.write(read - 1)
                    t_written = now()
            if t_written is not None:  # written and committed
                outcome, wrote, t_write = "success", read - 1, t_written
            else:
                outcome = "sold_out"
        except LockTimeout as e:
            outcome, error, error_fact = "gave_up", str(e), e.fact
        except Exception as e:  # a buyer reports any failure instead of dying with it
            error, error_fact = reported(e)
        return BuyerRecord(
            buyer, os.getpid(), outcome, seen, read, wrote, error,
            t_start, t_searched, t_lock_requested, t_lock_acquired, t_read, t_write, now(), error_fact=error_fact,
        )  # fmt: skip

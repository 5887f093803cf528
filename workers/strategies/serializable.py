"""The lesson's read, hold, write in a SERIALIZABLE transaction (PostgreSQL), with no lock: the server lets
the transactions run side by side and refuses to commit any whose reads another has made stale (SQLSTATE
40001, a serialization failure). A refused buyer runs its whole transaction again, reading afresh, up to
`max_retries` times; every rerun counts in its record's `retries`. Nothing is oversold; contention costs
reruns, as with optimistic."""

from __future__ import annotations

import os
import time

from workers.errors import LockTimeout, WriteConflict
from workers.messages import BuyerRecord, Outcome
from workers.speech import fact, said
from workers.strategies.base import Strategy, pause, reported


class Serializable(Strategy):
    kind = "serializable"
    steps = ("search", "read", "write")

    def buy(self, buyer: int) -> BuyerRecord:
        """Search, then run begin-read-hold-write-commit until it commits, finds none, or gives up."""
        plan, store = self.plan, self.store
        now = time.monotonic_ns
        rng = plan.rng(buyer)
        t_start = now()
        seen = read = wrote = t_searched = t_read = t_write = None
        outcome: Outcome = "error"
        error = error_fact = None
        retries = 0
        try:
            seen = store.read()
            pause(rng, plan.think_ms)
            t_searched = now()
            while True:
                t_written = None
                try:
                    with store.transaction("serializable", plan.lock_timeout_s):
                        read = store.read()
                        t_read = now()
                        if read > 0:
                            pause(rng, plan.hold_ms)
                            store.write(read - 1)
                            t_written = now()
                except WriteConflict as e:
                    if retries == plan.max_retries:
                        error_fact = fact("buyer.retries_refused", retries=retries, error=e.message)
                        outcome, error = "gave_up", said(error_fact)
                        break
                    retries += 1
                    continue
                if t_written is not None:  # written and committed
                    outcome, wrote, t_write = "success", read - 1, t_written
                else:
                    outcome = "sold_out"
                break
        except LockTimeout as e:
            outcome, error, error_fact = "gave_up", str(e), e.fact
        except Exception as e:  # a buyer reports any failure instead of dying with it
            error, error_fact = reported(e)
        return BuyerRecord(
            buyer, os.getpid(), outcome, seen, read, wrote, error,
            t_start, t_searched, None, None, t_read, t_write, now(), retries, error_fact=error_fact,
        )  # fmt: skip

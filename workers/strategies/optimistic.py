"""Optimistic concurrency: no lock. A buyer reads the count with its version, holds, and writes one less back
only if the version is still the one it read (the store's compare-and-set); if another buyer wrote first, its
write is refused and it reads again, up to `max_retries` times. Nothing is oversold; contention costs retries.
"""

from __future__ import annotations

import os
import time

from workers.gates import NotReleased
from workers.messages import BuyerRecord, Outcome
from workers.speech import fact, said
from workers.strategies.base import Strategy, pause, reported


class Optimistic(Strategy):
    kind = "optimistic"
    steps = ("search", "read", "write")

    def buy(self, buyer: int) -> BuyerRecord:
        """Run one buyer's search, then read-hold-compare-and-set until it sells, finds none, or gives up."""
        plan, store, gate = self.plan, self.store, self.gate
        now = time.monotonic_ns
        rng = plan.rng(buyer)
        t_start = seen = read = wrote = t_searched = t_read = t_write = None
        outcome: Outcome = "error"
        error = error_fact = None
        retries = 0
        try:
            gate.before(buyer)  # step: search
            t_start = now()
            seen = store.read_versioned()[0]
            pause(rng, plan.think_ms)
            t_searched = now()
            gate.after(buyer)
            while True:
                gate.before(buyer)  # step: read
                read, version = store.read_versioned()
                t_read = now()
                gate.after(buyer)
                if read <= 0:
                    outcome = "sold_out"
                    break
                gate.before(buyer)  # step: write, which a newer version refuses
                pause(rng, plan.hold_ms)
                store.before_sale()
                written = store.compare_and_set(version, read - 1)
                t_write = now() if written else None
                gate.after(buyer)
                if written:
                    wrote = read - 1
                    outcome = "success"
                    break
                if retries == plan.max_retries:
                    outcome = "gave_up"
                    error_fact = fact("buyer.retries_used", retries=retries)
                    error = said(error_fact)
                    break
                retries += 1
            store.after_sale()
        except NotReleased as e:
            error, error_fact = str(e), e.fact
        except Exception as e:  # a buyer reports any failure instead of dying with it
            error, error_fact = reported(e)
            gate.failed(buyer)
        return BuyerRecord(
            buyer, os.getpid(), outcome, seen, read, wrote, error,
            t_start, t_searched, None, None, t_read, t_write, now(), retries, error_fact=error_fact,
        )  # fmt: skip

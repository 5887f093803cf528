"""The lesson's visit: *search* (read the count, think), then *get* under the lock (read it again, hold, write
back one less). Without a lock, every buyer who reads before the first write sells the same ticket."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workers.errors import LockTimeout
from workers.gates import NotReleased
from workers.locks import make_lock
from workers.messages import BuyerRecord, Outcome
from workers.stores.base import TicketStore
from workers.strategies.base import Plan, Strategy, pause, reported

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


class ReadWrite(Strategy):
    kind = "read-write"
    steps = ("search", "read", "write")

    def __init__(self, plan: Plan, store: TicketStore, context: BaseContext, shares: Sequence[range]) -> None:
        super().__init__(plan, store, context, shares)
        self.lock = make_lock(
            plan.lock,  # type: ignore[arg-type]
            context,
            store.lock_path,
            plan.permits,
            store=store,
            ttl_ms=plan.lock_ttl_ms,
        )

    def buy(self, buyer: int) -> BuyerRecord:
        """Run one buyer's search and get; never raises: a failure becomes an `error` record."""
        plan, store, lock, gate = self.plan, self.store, self.lock, self.gate
        now = time.monotonic_ns
        rng = plan.rng(buyer)
        t_start = seen = read = wrote = t_searched = t_lock_requested = t_lock_acquired = t_read = t_write = None
        outcome: Outcome = "error"
        error = error_fact = None
        try:
            gate.before(buyer)  # step: search
            t_start = now()
            seen = store.read()
            pause(rng, plan.think_ms)
            t_searched = now()
            if seen > 0:
                store.before_sale()
            gate.after(buyer)
            gate.before(buyer)  # step: read
            t_lock_requested = now()
            with lock.held(plan.lock_timeout_s):
                t_lock_acquired = now()
                read = store.read()
                t_read = now()
                if read > 0:
                    gate.after(buyer)
                    gate.before(buyer)  # step: write
                    pause(rng, plan.hold_ms)
                    store.write(read - 1)
                    t_write = now()
                    wrote = read - 1
                    outcome = "success"
                else:
                    outcome = "sold_out"
            gate.after(buyer)  # the visit's last step is done once the lock is given back
            store.after_sale()
        except LockTimeout as e:
            outcome, error, error_fact = "gave_up", str(e), e.fact
        except NotReleased as e:
            error, error_fact = str(e), e.fact
        except Exception as e:  # a buyer reports any failure instead of dying with it
            error, error_fact = reported(e)
            gate.failed(buyer)
        return BuyerRecord(
            buyer, os.getpid(), outcome, seen, read, wrote, error,
            t_start, t_searched, t_lock_requested, t_lock_acquired, t_read, t_write, now(), error_fact=error_fact,
        )  # fmt: skip

    def close(self) -> None:
        self.lock.close()

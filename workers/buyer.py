"""One buyer's visit, as in the lesson: *search* (read the count, think), then *get* (take the lock, read,
hold, write back one less, give the lock back).

`work` is the target of every buyer process: it waits at the start line, runs its share of buyers one after
another (one buyer per process, or many in a pool) and sends their records in batches over the result channel.
"""

from __future__ import annotations

import os
import random
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import NamedTuple

from workers.channel import RecordChannel
from workers.db import TicketDb
from workers.errors import LockTimeout, TicketrushError
from workers.hygiene import die_with_parent
from workers.locks import BuyerLock
from workers.messages import BuyerRecord, Outcome

BATCH_SIZE = 2000
BATCH_INTERVAL_S = 0.05


class Plan(NamedTuple):
    """The plain values every buyer process needs.

    A named tuple, not a dataclass: the launcher, which forks every buyer, then never imports dataclasses (and
    inspect with it), a megabyte more for each fork and exit to copy and tear down (about 0.17 ms a buyer here).
    """

    db_path: Path
    think_ms: tuple[float, float]
    hold_ms: tuple[float, float]
    seed: int
    lock_timeout_s: float
    start_timeout_s: float
    parent_pid: int | None

    @property
    def random_delays(self) -> bool:
        return self.think_ms[0] != self.think_ms[1] or self.hold_ms[0] != self.hold_ms[1]


def _pause(rng: random.Random | None, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if high <= 0:
        return
    seconds = (low if rng is None or low == high else rng.uniform(low, high)) / 1000
    time.sleep(seconds)


def buy(buyer: int, plan: Plan, db: TicketDb, lock: BuyerLock) -> BuyerRecord:
    """Run one buyer's search and get; never raises: a failure becomes an `error` record, a lock wait that ran
    out a `gave_up` one."""
    now = time.monotonic_ns
    rng = random.Random(plan.seed * 1_000_003 + buyer) if plan.random_delays else None
    t_start = now()
    seen = read = wrote = t_searched = t_lock_requested = t_lock_acquired = t_read = t_write = None
    outcome: Outcome = "error"
    error = None
    try:
        seen = db.read()
        _pause(rng, plan.think_ms)
        t_searched = now()
        if seen > 0:
            db.stage()  # the file a sale will fill, made before the lock is taken rather than inside it
        t_lock_requested = now()
        with lock.held(plan.lock_timeout_s):
            t_lock_acquired = now()
            read = db.read()
            t_read = now()
            if read > 0:
                _pause(rng, plan.hold_ms)
                db.write(read - 1)
                t_write = now()
                wrote = read - 1
                outcome = "success"
            else:
                outcome = "sold_out"
        db.tidy()  # the replaced db file is deleted after the lock is given back
    except LockTimeout as e:  # the wait ran out: the buyer gave up, nothing failed
        outcome = "gave_up"
        error = str(e)
    except TicketrushError as e:
        error = str(e)
    except Exception as e:  # a buyer reports any failure instead of dying with it
        error = f"{type(e).__name__}: {e}"
    return BuyerRecord(
        buyer, os.getpid(), outcome, seen, read, wrote, error,
        t_start, t_searched, t_lock_requested, t_lock_acquired, t_read, t_write, now(),
    )  # fmt: skip


def work(buyers: range, plan: Plan, lock: BuyerLock, start: Event | None, results: RecordChannel) -> None:
    """Process target: wait for the start signal, then run `buyers` and report them in batches."""
    die_with_parent(plan.parent_pid)
    if start is not None and not start.wait(plan.start_timeout_s):
        error = f"was not released from the start line within {plan.start_timeout_s:g} s"
        results.send([BuyerRecord(b, os.getpid(), "error", error=error) for b in buyers])
        return
    serve(buyers, plan, lock, results)


def serve(buyers: range, plan: Plan, lock: BuyerLock, results: RecordChannel) -> None:
    """Run `buyers` one after another, reporting them in batches; close the db and the lock when done."""
    db = TicketDb(plan.db_path)
    batch: list[BuyerRecord] = []
    flushed = time.monotonic()
    try:
        for buyer in buyers:
            batch.append(buy(buyer, plan, db, lock))
            if len(batch) >= BATCH_SIZE or time.monotonic() - flushed >= BATCH_INTERVAL_S:
                results.send(batch)
                batch = []
                flushed = time.monotonic()
        if batch:
            results.send(batch)
    finally:
        db.close()
        lock.close()

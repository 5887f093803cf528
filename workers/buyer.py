"""One buyer's visit, as in the lesson: *search* (read the count, think), then *get* (take the lock, read,
hold, write back one less, give the lock back).

`work` is the target of every buyer process: it waits at the start line, runs its share of buyers one after
another (one buyer per process, or many in a pool) and sends their records in batches over the result queue.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from workers.db import TicketDb
from workers.errors import TicketrushError
from workers.hygiene import die_with_parent
from workers.locks import BuyerLock
from workers.messages import BuyerRecord, Outcome

BATCH_SIZE = 2000
BATCH_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Plan:
    """The plain values every buyer process needs."""

    db_path: Path
    think_ms: tuple[float, float]
    hold_ms: tuple[float, float]
    seed: int
    lock_timeout_s: float
    start_timeout_s: float
    parent_pid: int | None


def _pause(rng: random.Random | None, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if high <= 0:
        return
    seconds = (low if rng is None or low == high else rng.uniform(low, high)) / 1000
    time.sleep(seconds)


def buy(buyer: int, plan: Plan, db: TicketDb, lock: BuyerLock) -> BuyerRecord:
    """Run one buyer's search and get; never raises: a failure becomes an `error` record."""
    now = time.monotonic_ns
    random_delays = plan.think_ms[0] != plan.think_ms[1] or plan.hold_ms[0] != plan.hold_ms[1]
    rng = random.Random(plan.seed * 1_000_003 + buyer) if random_delays else None
    done: dict[str, Any] = {"t_start": now()}
    outcome: Outcome = "error"
    error = None
    try:
        done["seen"] = db.read()
        _pause(rng, plan.think_ms)
        done["t_searched"] = done["t_lock_requested"] = now()
        with lock.held(plan.lock_timeout_s):
            done["t_lock_acquired"] = now()
            count = done["read"] = db.read()
            done["t_read"] = now()
            if count > 0:
                _pause(rng, plan.hold_ms)
                db.write(count - 1)
                done["t_write"] = now()
                done["wrote"] = count - 1
                outcome = "success"
            else:
                outcome = "sold_out"
    except TicketrushError as e:
        error = str(e)
    except Exception as e:  # a buyer reports any failure instead of dying with it
        error = f"{type(e).__name__}: {e}"
    return BuyerRecord(buyer, os.getpid(), outcome, error=error, t_end=now(), **done)


def work(buyers: range, plan: Plan, lock: BuyerLock, start: Event | None, results: Queue[Any]) -> None:
    """Process target: wait for the start signal, then run `buyers` and report them in batches."""
    die_with_parent(plan.parent_pid)
    if start is not None and not start.wait(plan.start_timeout_s):
        error = f"was not released from the start line within {plan.start_timeout_s:g} s"
        results.put([BuyerRecord(b, os.getpid(), "error", error=error) for b in buyers])
        return
    db = TicketDb(plan.db_path)
    batch: list[BuyerRecord] = []
    flushed = time.monotonic()
    try:
        for buyer in buyers:
            batch.append(buy(buyer, plan, db, lock))
            if len(batch) >= BATCH_SIZE or time.monotonic() - flushed >= BATCH_INTERVAL_S:
                results.put(batch)
                batch = []
                flushed = time.monotonic()
        if batch:
            results.put(batch)
    finally:
        lock.close()

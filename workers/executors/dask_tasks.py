"""The cluster's side of a dask run: one task runs a share of the buyers on a Dask worker.

    buy_share(names, share, buyers, plan, store, time_limit_s)
      |-- claim     the share's Variable: a task the scheduler runs again after its worker was lost finds it
      |             claimed and buys nothing (its first run may have sold already: a sale is never made twice)
      |-- clock     this host's offset to the store server's clock (workers.executors.clocks)
      |-- open      the store, a connection of this task's own
      |-- ready     ("ready", share, host, clock, offset, error) on the run's Queue, then wait at the start line
      |             (the run's start Event, set once every task is ready)
      |-- buy       the buyers one after another (workers.buyer.run_buyers), their records in batches on the
      |             Queue; after each batch, the run's stop Event and the time limit are looked at
      `-- end       ("end", share, why or None)

Every message is a list of plain values (a distributed Queue carries msgpack). The task returns how it ended.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from multiprocessing import get_context
from typing import NamedTuple

from workers.buyer import run_buyers
from workers.errors import TicketrushError
from workers.executors.clocks import read_clock
from workers.messages import BuyerRecord
from workers.stores.base import TicketStore
from workers.strategies import Plan, strategy_class

CLAIM_WAIT_S = 0.05


class RunNames(NamedTuple):
    """The names of a run's distributed objects on the scheduler."""

    records: str
    start: str
    stop: str
    claims: str  # the prefix of one Variable per share

    @classmethod
    def of(cls, run: str) -> RunNames:
        return cls(f"{run}-records", f"{run}-start", f"{run}-stop", f"{run}-claim-")


class Stopped(Exception):
    """The run's stop Event was set, or its time ran out: the task stops buying."""


class QueueReport:
    """What `run_buyers` sends its batches to: the run's Queue, with a look at the stop Event after each."""

    def __init__(self, queue: object, stop: object, share: int, deadline: float) -> None:
        self.queue = queue
        self.stop = stop
        self.share = share
        self.deadline = deadline

    def send(self, records: Sequence[BuyerRecord]) -> None:
        self.queue.put(["records", self.share, [list(r) for r in records]])  # type: ignore[attr-defined]
        if self.stop.is_set() or time.monotonic() > self.deadline:  # type: ignore[attr-defined]
            raise Stopped


def buy_share(
    names: RunNames, share: int, buyers: tuple[int, int, int], plan: Plan, store: TicketStore, time_limit_s: float
) -> str:
    """Task: run buyers range(*buyers) with `plan` on `store`; 'bought', 'stopped', 'late' (a rerun) or 'failed'."""
    from distributed import Event, Queue, Variable

    deadline = time.monotonic() + time_limit_s
    queue, start, stop = Queue(names.records), Event(names.start), Event(names.stop)
    claim = Variable(f"{names.claims}{share}")
    try:
        claim.get(timeout=CLAIM_WAIT_S)
        return "late"  # claimed by an earlier run of this task, on a worker that was lost
    except TimeoutError:
        claim.set("claimed")
    numbers = range(*buyers)
    strategy = strategy_class(plan.strategy)(plan, store, get_context("fork"), [numbers])
    try:
        reading = read_clock(store)
        store.open()
    except TicketrushError as e:
        queue.put(["records", share, [list(BuyerRecord(b, 0, "error", error=str(e))) for b in numbers]])
        queue.put(["end", share, str(e)])
        return "failed"
    queue.put(["ready", share, reading.host, reading.clock, reading.offset_ns, reading.error_ns])
    if not start.wait(timeout=max(0.0, deadline - time.monotonic())):
        store.close()
        queue.put(["end", share, f"was not released from the start line within {time_limit_s:g} s"])
        return "stopped"
    strategy.after_fork(share)
    try:
        run_buyers(numbers, strategy, QueueReport(queue, stop, share, deadline))  # type: ignore[arg-type]
    except Stopped:
        queue.put(["end", share, "stopped"])
        return "stopped"
    queue.put(["end", share, None])
    return "bought"

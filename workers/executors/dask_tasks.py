"""The cluster's side of a dask run: one task runs a share of the buyers on a Dask worker.

    buy_share(names, share, buyers, plan, store, time_limit_s)
      |-- claim     the share's Variable: a task the scheduler runs again after its worker was lost finds it
      |             claimed and buys nothing (its first run may have sold already: a sale is never made twice)
      |-- clock     this host's offset to the store server's clock (workers.executors.clocks)
      |-- open      the store, a connection of this task's own
      |-- ready     ("ready", share, host, clock, offset, error) on the run's Queue, then wait at the start line
      |             (the run's start Event, set once every task is ready); host: the worker's, as Dask names it
      |-- buy       the buyers one after another (workers.buyer.run_buyers), their records in batches on the
      |             Queue, each naming the host; after each batch, the run's stop Event and the time limit are
      |             looked at, and whether the store's server closed a connection on this task: then
      |             ("lost", share, the server's words) and the task stops
      `-- end       ("end", share, why or None)

Every message is a list of plain values (a distributed Queue carries msgpack). The task returns how it ended.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from multiprocessing import get_context
from typing import NamedTuple

from workers.buyer import run_buyers
from workers.errors import StoreLost, TicketrushError
from workers.executors.clocks import read_clock
from workers.messages import BuyerRecord
from workers.stores.base import ServerStore, TicketStore
from workers.strategies import Plan, strategy_class

CLAIM_WAIT_S = 0.05
_HOST_AT = BuyerRecord._fields.index("host")


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
    """The run's stop Event was set, its time ran out, or its store's server closed a connection: the task
    stops buying."""


def worker_host() -> str:
    """The host of the Dask worker this task runs on, as Dask names it (the address it is reached at)."""
    from distributed import get_worker
    from distributed.comm import get_address_host

    return str(get_address_host(get_worker().address))


def _named(records: Sequence[BuyerRecord], host: str) -> list[list[object]]:
    rows = []
    for record in records:
        fields: list[object] = list(record)
        fields[_HOST_AT] = host
        rows.append(fields)
    return rows


class QueueReport:
    """What `run_buyers` sends its batches to: the run's Queue, with a look after each batch at the stop Event,
    the time limit and the store (a server that closed a connection on this task stops it)."""

    def __init__(self, queue: object, stop: object, share: int, host: str, store: TicketStore, deadline: float) -> None:
        self.queue = queue
        self.stop = stop
        self.share = share
        self.host = host
        self.store = store
        self.deadline = deadline

    def send(self, records: Sequence[BuyerRecord]) -> None:
        self.queue.put(["records", self.share, _named(records, self.host)])  # type: ignore[attr-defined]
        heard = self.store.heard if isinstance(self.store, ServerStore) else None
        if heard is not None:
            self.queue.put(["lost", self.share, heard])  # type: ignore[attr-defined]
            raise Stopped
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
    host = worker_host()
    strategy = strategy_class(plan.strategy)(plan, store, get_context("fork"), [numbers])
    try:
        reading = read_clock(store)
        store.open()
    except TicketrushError as e:
        failed = [BuyerRecord(b, os.getpid(), "error", error=str(e), error_fact=e.fact) for b in numbers]
        queue.put(["records", share, _named(failed, host)])
        if isinstance(e, StoreLost):
            queue.put(["lost", share, e.message])
        queue.put(["end", share, str(e)])
        return "failed"
    queue.put(["ready", share, host, reading.clock, reading.offset_ns, reading.error_ns])
    if not start.wait(timeout=max(0.0, deadline - time.monotonic())):
        store.close()
        queue.put(["end", share, f"was not released from the start line within {time_limit_s:g} s"])
        return "stopped"
    strategy.after_fork(share)
    report = QueueReport(queue, stop, share, host, store, deadline)
    try:
        run_buyers(numbers, strategy, report)  # type: ignore[arg-type]
    except Stopped:
        queue.put(["end", share, "stopped"])
        return "stopped"
    queue.put(["end", share, None])
    return "bought"

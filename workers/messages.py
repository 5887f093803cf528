"""What crosses between processes: small plain records, cheap to pickle.

Buyers send lists of BuyerRecord over the run's result channel; timestamps are time.monotonic_ns() values,
which on Linux come from one system-wide clock and so compare across processes (records made on other hosts
are put on the coordinator's clock: workers.executors.clocks).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Outcome = Literal["success", "sold_out", "gave_up", "error"]


class BuyerRecord(NamedTuple):
    """What one buyer did and when.

    Every strategy fills the same fields: `t_lock_requested` / `t_lock_acquired` bracket the wait for the right
    to go on (a lock, or the seller taking the request off its queue), `t_read` / `t_write` the read-to-write
    window, `retries` how many times an optimistic write was refused, `host` where the buyer ran when the
    executor spreads buyers over hosts (dask: the worker's host as Dask names it; None: the coordinator's own
    host). "gave_up": the buyer stopped waiting (a lock wait that ran out, retries used up); "error": something
    failed.
    """

    buyer: int
    pid: int
    outcome: Outcome
    seen: int | None = None
    read: int | None = None
    wrote: int | None = None
    error: str | None = None
    t_start: int | None = None
    t_searched: int | None = None
    t_lock_requested: int | None = None
    t_lock_acquired: int | None = None
    t_read: int | None = None
    t_write: int | None = None
    t_end: int | None = None
    retries: int | None = None
    host: str | None = None


TIMESTAMPS = (
    "t_start",
    "t_searched",
    "t_lock_requested",
    "t_lock_acquired",
    "t_read",
    "t_write",
    "t_end",
)

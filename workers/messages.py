"""What crosses between processes: small plain records, cheap to pickle.

Buyers send lists of BuyerRecord over the run's result channel; timestamps are time.monotonic_ns() values,
which on Linux come from one system-wide clock and so compare across processes.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Outcome = Literal["success", "sold_out", "gave_up", "error"]
"""`gave_up`: the buyer's wait for the lock ran out (no fault: it has t_lock_requested, no t_lock_acquired, and
t_end when it gave up, and `error` says what it gave up on); `error`: something failed."""


class BuyerRecord(NamedTuple):
    """What one buyer did and when."""

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


TIMESTAMPS = (
    "t_start",
    "t_searched",
    "t_lock_requested",
    "t_lock_acquired",
    "t_read",
    "t_write",
    "t_end",
)

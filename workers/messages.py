"""What crosses between processes: small plain records, cheap to pickle.

Buyers send lists of BuyerRecord over the run's result channel; timestamps are time.monotonic_ns() values,
which on Linux come from one system-wide clock and so compare across processes (records made on other hosts
are put on the coordinator's clock: workers.executors.clocks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

from workers.speech import said

if TYPE_CHECKING:
    from workers.speech import Fact

Outcome = Literal["success", "sold_out", "gave_up", "error"]


class BuyerRecord(NamedTuple):
    """What one buyer did and when.

    Every strategy fills the same fields: `t_lock_requested` / `t_lock_acquired` bracket the wait for the right
    to go on (a lock, or the seller taking the request off its queue), `t_read` / `t_write` the read-to-write
    window, `retries` how many times an optimistic write was refused, `host` where the buyer ran when the
    executor spreads buyers over hosts (dask: the worker's host as Dask names it; None: the coordinator's own
    host). "gave_up": the buyer stopped waiting (a lock wait that ran out, retries used up); "error": something
    failed. `error` says why in English; `error_fact` says the same as a fact (workers.speech) where the engine
    made the error on purpose, for a face to say in its user's language (None: words alone, such as an unexpected
    exception's).
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
    error_fact: Fact | None = None

    def error_in(self, lang: str) -> str | None:
        """Why the buyer gave up or failed, in `lang` where it is a fact, else in its own words."""
        return said(self.error_fact, lang) if self.error_fact is not None else self.error


TIMESTAMPS = (
    "t_start",
    "t_searched",
    "t_lock_requested",
    "t_lock_acquired",
    "t_read",
    "t_write",
    "t_end",
)

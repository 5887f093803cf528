"""From what the buyers reported to what happened: counts, oversold seats, lost updates, overlaps, waits.

Every figure shown anywhere (API, CLI, web page) is computed here, once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import count as from_one
from itertools import repeat
from operator import sub

from pydantic import BaseModel, Field

from workers.messages import BuyerRecord

MAX_CONFLICTS = 10
MAX_NAMED = 20


class Conflict(BaseModel):
    """Buyers who all read the same count and all sold from it: every one after the first was a lost update."""

    read: int = Field(description="The count they all read.")
    size: int = Field(description="How many buyers sold from that one reading.")
    buyers: list[int] = Field(description="Who they were, in the order they read (at most 20 named).")
    first_writer: int = Field(description="The first of them to write the count back.")


class Result(BaseModel):
    """What a finished run shows."""

    tickets_initial: int
    tickets_remaining: int
    tickets_sold: int = Field(description="initial - remaining: what actually left the db.")
    tickets_handed_out: int = Field(description="Buyers told they got a ticket.")
    buyers_total: int
    buyers_succeeded: int
    buyers_sold_out: int
    buyers_errored: int
    oversold: int = Field(description="Tickets handed out beyond the seats that existed.")
    lost_updates: int = Field(description="Sales whose write was overwritten by another buyer's.")
    safe: bool = Field(description="No oversold seat and no lost update.")
    max_in_critical: int = Field(description="Most buyers between their read and their write at one instant.")
    lock_wait_p50_ms: float
    lock_wait_p95_ms: float
    lock_wait_max_ms: float
    duration_ms: float
    sales_per_second: float = Field(description="Tickets that left the db per second of the run.")
    conflicts: list[Conflict] = Field(description="The largest groups of buyers who sold from one reading.")
    explanation: str


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def max_in_critical(records: Sequence[BuyerRecord]) -> int:
    """The largest number of buyers whose read-to-write windows overlap at one instant.

    When the i-th window (by start) opens, the windows open are the i opened so far less those that ended
    before it began (found by bisecting the sorted ends). Only integers are built, no tuple per record: for a
    hundred thousand records that keeps the garbage collector out of it.
    """
    starts = sorted(r.t_read for r in records if r.t_read is not None)
    ends = sorted(r.t_read if r.t_write is None else r.t_write for r in records if r.t_read is not None)
    ended_before = map(bisect_left, repeat(ends), starts)
    return max(map(sub, from_one(1), ended_before), default=0)


def find_conflicts(records: Sequence[BuyerRecord]) -> list[Conflict]:
    by_count: defaultdict[int, list[BuyerRecord]] = defaultdict(list)
    for r in records:
        if r.outcome == "success" and r.read is not None:
            by_count[r.read].append(r)
    conflicts = []
    for count, group in by_count.items():
        if len(group) < 2:
            continue
        group.sort(key=lambda r: r.t_read or 0)
        first = min(group, key=lambda r: r.t_write or 0)
        conflicts.append(
            Conflict(
                read=count,
                size=len(group),
                buyers=[r.buyer for r in group[:MAX_NAMED]],
                first_writer=first.buyer,
            )
        )
    conflicts.sort(key=lambda c: (-c.size, -c.read))
    return conflicts[:MAX_CONFLICTS]


def _names(buyers: Sequence[int], size: int) -> str:
    shown = [str(b) for b in buyers[:5]]
    if size > len(shown):
        return ", ".join(shown) + f" and {size - len(shown)} others"
    return ", ".join(shown[:-1]) + f" and {shown[-1]}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def explain(result: Result, lock_label: str | None) -> str:
    """A plain-language paragraph that says what happened and names witnesses (`lock_label` None: no lock)."""
    r = result
    parts = []
    if r.conflicts:
        c = r.conflicts[0]
        head = (
            f"Buyers {_names(c.buyers, c.size)} {'both' if c.size == 2 else 'all'} read count={c.read} "
            f"before buyer {c.first_writer} "
            f"wrote {c.read - 1}; each wrote {c.read - 1}, "
        )
        if c.read == 1:
            parts.append(head + f"so {c.size} tickets were handed out for 1 seat ({c.size - 1} oversold).")
        else:
            parts.append(head + f"so {c.size} sales took only 1 ticket off the count ({c.size - 1} lost updates).")
    elif r.max_in_critical <= 1 and lock_label is not None:
        parts.append(
            f"With the {lock_label}, buyers took turns: never more than 1 was between reading and writing the count."
        )
    parts.append(
        f"In all, {_plural(r.tickets_handed_out, 'buyer')} {'was' if r.tickets_handed_out == 1 else 'were'} "
        "told they got a ticket, "
        f"{_plural(r.tickets_sold, 'ticket')} left the db and {r.tickets_remaining:,} remain"
        + (f": {r.oversold:,} oversold, {r.lost_updates:,} lost updates." if not r.safe else "; nothing oversold.")
    )
    if r.buyers_sold_out:
        parts.append(f"{_plural(r.buyers_sold_out, 'buyer')} found it sold out.")
    if r.max_in_critical > 1:
        parts.append(f"Up to {r.max_in_critical:,} buyers were between read and write at the same moment.")
    if r.lock_wait_max_ms > 0 and lock_label is not None:
        parts.append(
            f"Waiting for the {lock_label} took {r.lock_wait_p50_ms:,.1f} ms at the median and "
            f"{r.lock_wait_max_ms:,.1f} ms at most."
        )
    if r.buyers_errored:
        parts.append(f"{_plural(r.buyers_errored, 'buyer')} failed with an error (see their records).")
    return " ".join(parts)


def analyse(
    records: Sequence[BuyerRecord],
    *,
    tickets_initial: int,
    tickets_remaining: int,
    duration_ns: int,
    lock_label: str | None,
) -> Result:
    outcomes = Counter(r.outcome for r in records)
    succeeded, sold_out = outcomes["success"], outcomes["sold_out"]
    sold = tickets_initial - tickets_remaining
    waits: list[float] = []
    if lock_label is not None:  # without a lock nobody waits for one: the gap there is only scheduling
        waits = sorted(
            (r.t_lock_acquired - r.t_lock_requested) / 1e6
            for r in records
            if r.t_lock_acquired is not None and r.t_lock_requested is not None
        )
    duration_ms = duration_ns / 1e6
    oversold = max(0, succeeded - tickets_initial)
    lost = max(0, succeeded - sold)
    result = Result(
        tickets_initial=tickets_initial,
        tickets_remaining=tickets_remaining,
        tickets_sold=sold,
        tickets_handed_out=succeeded,
        buyers_total=len(records),
        buyers_succeeded=succeeded,
        buyers_sold_out=sold_out,
        buyers_errored=len(records) - succeeded - sold_out,
        oversold=oversold,
        lost_updates=lost,
        safe=oversold == 0 and lost == 0,
        max_in_critical=max_in_critical(records),
        lock_wait_p50_ms=round(_percentile(waits, 0.50), 3),
        lock_wait_p95_ms=round(_percentile(waits, 0.95), 3),
        lock_wait_max_ms=round(waits[-1] if waits else 0.0, 3),
        duration_ms=round(duration_ms, 3),
        sales_per_second=round(sold / (duration_ms / 1000), 1) if duration_ms > 0 else 0.0,
        conflicts=find_conflicts(records),
        explanation="",
    )
    result.explanation = explain(result, lock_label)
    return result

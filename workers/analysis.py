"""From what the buyers reported to what happened: counts, oversold seats, lost updates, overlaps, waits.

Every figure shown anywhere (API, CLI, web page) is computed here, once, and every sentence says only what
the records show:

- a *lost update* is a sale the count does not show: handed out minus what left the db. Each one is a write
  that a buyer who had read the count before it wrote then overwrote;
- a *conflict* names such buyers: sales that read the same count before the first of them wrote it back
  (their read-to-write windows all span that first write), so each wrote the same count and between them
  they took one ticket off;
- a *lock wait* runs from asking for the lock to getting it, or to giving up on it. Without a lock nobody
  waits: the waits are 0 and their histogram is empty.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import count as from_one
from itertools import repeat
from operator import sub
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from workers.messages import BuyerRecord
from workers.witnesses import CureFigures, cure_story, figures

MAX_CONFLICTS = 10
MAX_NAMED = 20
WAIT_BUCKETS = 20

VerdictKind = Literal["safe", "incomplete", "unsafe"]


class Conflict(BaseModel):
    """Sales from one reading: every buyer read the same count before the first of them wrote it back."""

    read: int = Field(description="The count they all read.")
    size: int = Field(description="How many buyers sold from that reading: all but one of them were lost updates.")
    buyers: list[int] = Field(description="Who they were, in the order they read (at most 20 named).")
    first_writer: int = Field(description="The first of them to write the count back; all read before it wrote.")


class WaitBucket(BaseModel):
    """One bar of the lock-wait histogram: the buyers whose wait was at least `from_ms` and below `to_ms`."""

    from_ms: float
    to_ms: float = Field(description="The last bucket includes its upper edge, the longest wait.")
    buyers: int = Field(description="Buyers whose wait fell in this bucket, those who gave up included.")
    gave_up: int = Field(description="Of those, the buyers who gave up waiting.")


class Result(BaseModel):
    """What a finished run shows."""

    tickets_initial: int
    tickets_remaining: int
    tickets_sold: int = Field(description="initial - remaining: what actually left the db.")
    tickets_handed_out: int = Field(description="Buyers told they got a ticket.")
    buyers_total: int
    buyers_succeeded: int
    buyers_sold_out: int
    buyers_gave_up: int = Field(description="Buyers who stopped waiting (for the lock: lock_timeout_s) or retrying.")
    buyers_errored: int = Field(description="Buyers that failed (a dead process, an unreadable db).")
    oversold: int = Field(description="Tickets handed out beyond the seats that existed.")
    lost_updates: int = Field(description="Sales the count does not show (handed out - sold): overwritten writes.")
    safe: bool = Field(description="No oversold seat and no lost update.")
    verdict: str = Field(description="The run in one sentence, the headline.")
    verdict_kind: VerdictKind = Field(
        description="safe: no seat sold twice and every buyer answered; incomplete: no seat sold twice, but some "
        "buyers gave up or failed; unsafe: seats oversold or updates lost."
    )
    max_in_critical: int = Field(description="Most buyers between their read and their write at one instant.")
    lock_wait_p50_ms: float = Field(description="Lock waits, from asking to getting it or giving up; 0 without one.")
    lock_wait_p95_ms: float
    lock_wait_max_ms: float
    lock_wait_histogram: list[WaitBucket] = Field(
        description=f"The lock waits in {WAIT_BUCKETS} equal buckets from 0 to the longest; empty without a lock."
    )
    duration_ms: float
    sales_per_second: float = Field(description="Tickets that left the db per second of the run.")
    purchase_p50_ms: float = Field(
        0.0, description="From a buyer's decision to buy (after its search) to its answer, at the median."
    )
    purchase_p95_ms: float = 0.0
    store: str = Field("file", description="Where the tickets lived.")
    strategy: str = Field("read-write", description="How the buyers bought.")
    retries: int = Field(0, description="Optimistic writes refused and retried, over every buyer.")
    queue_wait_p50_ms: float = Field(0.0, description="Seller: from sending a request to the seller taking it.")
    queue_wait_p95_ms: float = 0.0
    seller_rounds: int = Field(0, description="Seller: rounds of one read and one write, each deciding requests.")
    schedule: list[int] | None = Field(
        None,
        description="The schedule the run followed, told from its records and checked against them: pass it as "
        "`schedule` to replay the run exactly. Null when the records cannot tell it (a buyer retried, gave up or "
        "failed; the strategy is the seller).",
    )
    conflicts: list[Conflict] = Field(description="The largest groups of buyers who sold from one reading.")
    explanation: str

    @model_validator(mode="before")
    @classmethod
    def _from_an_earlier_version(cls, data: Any) -> Any:
        """A result stored before buyers could give up (they failed instead) and before the verdict: fill in."""
        if isinstance(data, dict) and "verdict" not in data:
            data = {"buyers_gave_up": 0, "lock_wait_histogram": [], **data}
            data["verdict"], data["verdict_kind"] = verdict(
                oversold=data["oversold"],
                lost_updates=data["lost_updates"],
                handed_out=data["tickets_handed_out"],
                tickets_initial=data["tickets_initial"],
                sold=data["tickets_sold"],
                buyers_total=data["buyers_total"],
                gave_up=data["buyers_gave_up"],
                errored=data["buyers_errored"],
                waited_for=None,
            )
        return data


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


def lock_waits(records: Sequence[BuyerRecord]) -> tuple[list[float], list[float]]:
    """The waits in ms of the buyers who got the lock, and of those who gave up (until they gave up)."""
    got, gave_up = [], []
    for r in records:
        if r.t_lock_requested is None:
            continue
        if r.t_lock_acquired is not None:
            got.append((r.t_lock_acquired - r.t_lock_requested) / 1e6)
        elif r.outcome == "gave_up" and r.t_end is not None:
            gave_up.append((r.t_end - r.t_lock_requested) / 1e6)
    return got, gave_up


def wait_histogram(got: Sequence[float], gave_up: Sequence[float]) -> list[WaitBucket]:
    """`WAIT_BUCKETS` equal buckets from 0 to the longest wait (one bucket if every wait is 0); none if no waits."""
    longest = max(max(got, default=0.0), max(gave_up, default=0.0))
    if not got and not gave_up:
        return []
    buckets = WAIT_BUCKETS if longest > 0 else 1
    width = longest / buckets if longest > 0 else 1.0
    counts, gave_up_counts = [0] * buckets, [0] * buckets
    for waits, tally in ((got, counts), (gave_up, gave_up_counts)):
        for wait in waits:
            tally[min(buckets - 1, int(wait / width))] += 1
    return [
        WaitBucket(
            from_ms=round(i * width, 3) if longest > 0 else 0.0,
            to_ms=round(longest if i == buckets - 1 else (i + 1) * width, 3),
            buyers=counts[i] + gave_up_counts[i],
            gave_up=gave_up_counts[i],
        )
        for i in range(buckets)
    ]


def find_conflicts(records: Sequence[BuyerRecord]) -> list[Conflict]:
    """The largest groups of sales from one reading, `MAX_CONFLICTS` at most, largest first.

    Sales that read the same count are taken in the order they wrote: the first writer and every other sale
    that read that count before it wrote form one group; the sales left over, which read the count only after
    that write (a stale write had put the count back), are grouped the same way among themselves. Every buyer
    in a group read the count before its first writer wrote, so each wrote the same count back and only one
    of their sales can show in the count.
    """
    by_count: defaultdict[int, list[BuyerRecord]] = defaultdict(list)
    for r in records:
        if r.outcome == "success" and r.read is not None and r.t_read is not None and r.t_write is not None:
            by_count[r.read].append(r)
    conflicts = []
    for count, sales in by_count.items():
        if len(sales) < 2:
            continue
        by_read = sorted(sales, key=lambda r: (r.t_read, r.buyer))
        grouped: set[int] = set()
        next_reader = 0
        for first in sorted(sales, key=lambda r: (r.t_write, r.buyer)):
            if first.buyer in grouped:
                continue
            group = []
            while next_reader < len(by_read) and (by_read[next_reader].t_read or 0) < (first.t_write or 0):
                group.append(by_read[next_reader])
                next_reader += 1
            grouped.update(r.buyer for r in group)
            if len(group) > 1:
                conflicts.append(
                    Conflict(
                        read=count,
                        size=len(group),
                        buyers=[r.buyer for r in group[:MAX_NAMED]],
                        first_writer=first.buyer,
                    )
                )
    conflicts.sort(key=lambda c: (-c.size, -c.read, c.first_writer))
    return conflicts[:MAX_CONFLICTS]


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _names(buyers: Sequence[int], size: int) -> str:
    shown = [str(b) for b in buyers[:5]]
    if size > len(shown):
        return ", ".join(shown) + f" and {_plural(size - len(shown), 'other')}"
    return ", ".join(shown[:-1]) + f" and {shown[-1]}"


def verdict(
    *,
    oversold: int,
    lost_updates: int,
    handed_out: int,
    tickets_initial: int,
    sold: int,
    buyers_total: int,
    gave_up: int,
    errored: int,
    waited_for: str | None,
) -> tuple[str, VerdictKind]:
    """The headline and its kind: whether a seat was sold twice, and which buyers got no answer.

    `waited_for`: what every buyer who gave up had been waiting for (the lock's label), if they all waited for it.
    """
    unanswered = []
    if gave_up:
        unanswered.append(f"gave up waiting for the {waited_for}" if waited_for else "gave up")
    if errored:
        unanswered.append(f"{errored:,} failed with an error" if gave_up else "failed with an error")
    who = f"{gave_up or errored:,} of {_plural(buyers_total, 'buyer')} " + " and ".join(unanswered)
    if oversold:
        head = f"Oversold: {_plural(handed_out, 'ticket')} handed out for {_plural(tickets_initial, 'seat')}"
    elif lost_updates:
        head = (
            f"Not safe: {_plural(handed_out, 'ticket')} handed out but only {sold:,} left the db "
            f"({_plural(lost_updates, 'lost update')})"
        )
    elif unanswered:
        return f"No seat sold twice, but {who}", "incomplete"
    else:
        return "Safe: no seat sold twice", "safe"
    return (f"{head}; {who}" if unanswered else head), "unsafe"


def explain(
    result: Result,
    lock_label: str | None,
    gave_up_waits: Sequence[float] = (),
    gave_up_reasons: Counter[str] | None = None,
    story: tuple[str | None, str | None] = (None, None),
) -> str:
    """A plain-language paragraph that says what happened and names witnesses (`lock_label` None: no lock).

    `gave_up_waits`: how long the buyers who gave up on the lock had waited; `gave_up_reasons`: what every buyer
    who gave up said, and how many said it.
    """
    r = result
    opening, closing = story
    parts = [opening] if opening else []
    if r.conflicts:
        c = r.conflicts[0]
        head = (
            f"Buyers {_names(c.buyers, c.size)} {'both' if c.size == 2 else 'all'} read count={c.read:,} "
            f"before buyer {c.first_writer} wrote {c.read - 1:,}; each wrote {c.read - 1:,}, "
        )
        if c.read == 1:
            parts.append(head + f"so {c.size:,} tickets were handed out for 1 seat ({c.size - 1:,} oversold).")
        else:
            parts.append(
                head + f"so {c.size:,} sales took only 1 ticket off the count ({_plural(c.size - 1, 'lost update')})."
            )
    elif r.max_in_critical <= 1 and lock_label is not None:
        parts.append(
            f"With the {lock_label}, buyers took turns: never more than 1 was between reading and writing the count."
        )
    parts.append(
        f"In all, {_plural(r.tickets_handed_out, 'buyer')} {'was' if r.tickets_handed_out == 1 else 'were'} "
        "told they got a ticket, "
        f"{_plural(r.tickets_sold, 'ticket')} left the db and {r.tickets_remaining:,} "
        f"{'remains' if r.tickets_remaining == 1 else 'remain'}"
        + (
            f": {r.oversold:,} oversold, {_plural(r.lost_updates, 'lost update')}."
            if not r.safe
            else "; nothing oversold."
        )
    )
    if r.buyers_sold_out:
        parts.append(f"{_plural(r.buyers_sold_out, 'buyer')} found it sold out.")
    if r.max_in_critical > 1 and r.strategy != "seller":  # the seller decides a round's requests from one read
        parts.append(f"Up to {r.max_in_critical:,} buyers were between read and write at the same moment.")
    if r.buyers_gave_up and lock_label is not None and len(gave_up_waits) == r.buyers_gave_up:
        shortest = f"{min(gave_up_waits):,.1f} ms"
        parts.append(
            f"{r.buyers_gave_up:,} of {_plural(r.buyers_total, 'buyer')} gave up waiting for the {lock_label}, "
            + (f"after {shortest}." if r.buyers_gave_up == 1 else f"each after {shortest} or more.")
        )
    elif r.buyers_gave_up:
        reasons = (gave_up_reasons or Counter()).most_common()
        for reason, n in reasons[:3]:
            parts.append(f"{n:,} of {_plural(r.buyers_total, 'buyer')} {reason}.")
        if len(reasons) > 3:
            parts.append(f"{sum(n for _, n in reasons[3:]):,} more gave up for other reasons (see their records).")
    if r.lock_wait_max_ms > 0 and lock_label is not None:
        parts.append(
            f"Waiting for the {lock_label} took {r.lock_wait_p50_ms:,.1f} ms at the median and "
            f"{r.lock_wait_max_ms:,.1f} ms at most"
            + (", counting the buyers who gave up." if r.buyers_gave_up else ".")
        )
    if r.queue_wait_p95_ms > 0:
        parts.append(
            f"Requests waited {r.queue_wait_p50_ms:,.1f} ms at the median ({r.queue_wait_p95_ms:,.1f} ms at p95) "
            "for the seller to take them."
        )
    if r.buyers_errored:
        parts.append(f"{_plural(r.buyers_errored, 'buyer')} failed with an error (see their records).")
    if closing:
        parts.append(closing)
    return " ".join(parts)


def analyse(
    records: Sequence[BuyerRecord],
    *,
    tickets_initial: int,
    tickets_remaining: int,
    duration_ns: int,
    lock_label: str | None,
    store: str = "file",
    strategy: str = "read-write",
    lock: str = "none",
    permits: int | None = None,
    schedule: list[int] | None = None,
) -> Result:
    """The result of a run from its records; `lock_label` None: no lock (the store and strategy name the rest)."""
    outcomes = Counter(r.outcome for r in records)
    succeeded, sold_out, gave_up = outcomes["success"], outcomes["sold_out"], outcomes["gave_up"]
    errored = len(records) - succeeded - sold_out - gave_up
    sold = tickets_initial - tickets_remaining
    got, gave_up_waits = lock_waits(records) if lock_label is not None else ([], [])  # no lock: nobody waits
    gave_up_reasons = Counter(r.error or "gave up" for r in records if r.outcome == "gave_up")
    waits = sorted(got + gave_up_waits)
    extra: CureFigures = figures(strategy, records)
    queue_waits = sorted(extra.queue_waits_ms)
    purchases = sorted(
        (r.t_end - r.t_searched) / 1e6
        for r in records
        if r.outcome in ("success", "sold_out") and r.t_end is not None and r.t_searched is not None
    )
    duration_ms = duration_ns / 1e6
    oversold = max(0, succeeded - tickets_initial)
    lost = max(0, succeeded - sold)
    headline, kind = verdict(
        oversold=oversold,
        lost_updates=lost,
        handed_out=succeeded,
        tickets_initial=tickets_initial,
        sold=sold,
        buyers_total=len(records),
        gave_up=gave_up,
        errored=errored,
        waited_for=lock_label if lock_label is not None and len(gave_up_waits) == gave_up else None,
    )
    result = Result(
        tickets_initial=tickets_initial,
        tickets_remaining=tickets_remaining,
        tickets_sold=sold,
        tickets_handed_out=succeeded,
        buyers_total=len(records),
        buyers_succeeded=succeeded,
        buyers_sold_out=sold_out,
        buyers_gave_up=gave_up,
        buyers_errored=errored,
        oversold=oversold,
        lost_updates=lost,
        safe=oversold == 0 and lost == 0,
        verdict=headline,
        verdict_kind=kind,
        max_in_critical=max_in_critical(records),
        lock_wait_p50_ms=round(_percentile(waits, 0.50), 3),
        lock_wait_p95_ms=round(_percentile(waits, 0.95), 3),
        lock_wait_max_ms=round(waits[-1] if waits else 0.0, 3),
        lock_wait_histogram=wait_histogram(got, gave_up_waits),
        duration_ms=round(duration_ms, 3),
        sales_per_second=round(sold / (duration_ms / 1000), 1) if duration_ms > 0 else 0.0,
        purchase_p50_ms=round(_percentile(purchases, 0.50), 3),
        purchase_p95_ms=round(_percentile(purchases, 0.95), 3),
        store=store,
        strategy=strategy,
        retries=extra.retries,
        queue_wait_p50_ms=round(_percentile(queue_waits, 0.50), 3),
        queue_wait_p95_ms=round(_percentile(queue_waits, 0.95), 3),
        seller_rounds=extra.seller_rounds,
        schedule=schedule,
        conflicts=find_conflicts(records),
        explanation="",
    )
    story = cure_story(strategy, lock, permits, records, extra, oversold)
    result.explanation = explain(result, lock_label, gave_up_waits, gave_up_reasons, story)
    return result

"""From what the buyers reported to what happened: counts, oversold seats, lost updates, overlaps, waits.

Every figure shown anywhere (API, CLI, web page) is computed here, once, and every sentence says only what
the records show:

- a *lost update* is a sale the count does not show: handed out minus what left the db. Each one is a write
  that a buyer who had read the count before it wrote then overwrote;
- a *conflict* names such buyers: sales that read the same count before the first of them wrote it back
  (their read-to-write windows all span that first write), so each wrote the same count and between them
  they took one ticket off;
- a *lock wait* runs from asking for the lock to getting it, or to giving up on it: one of ours (read-write's),
  or the store's own write lock that a for-update transaction takes (PostgreSQL's row lock, SQLite's write
  lock). Without a lock nobody waits: the waits are 0 and their histogram is empty.

The store's words for where the tickets live (`TicketStore.home`) and for what went wrong (`workers.witnesses`)
come into the explanation from here.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from itertools import accumulate, repeat
from operator import attrgetter, sub, truediv
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from workers.locks import lock_fact
from workers.messages import BuyerRecord
from workers.speech import DEFAULT, Fact, fact, say
from workers.witnesses import CureFigures, cure_story, figures, store_anomaly, waited_on

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
    last_writer: int | None = Field(
        None,
        description="The last of them to write the count back: its write went over every other's of the group (null "
        "when two wrote last at the same instant).",
    )


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
    lock_wait_p50_ms: float = Field(
        description="Lock waits, from asking to getting it or giving up; 0 without one. The lock is read-write's, or "
        "the store's own that for-update takes (PostgreSQL's row lock, SQLite's write lock)."
    )
    lock_wait_p95_ms: float
    lock_wait_max_ms: float
    lock_wait_histogram: list[WaitBucket] = Field(
        description=f"The lock waits in {WAIT_BUCKETS} equal buckets from 0 to the longest; empty without a lock."
    )
    duration_ms: float
    setup_ms: float = Field(
        0.0,
        description="From the start of the run to the buyers' release: the store prepared, the launcher given the "
        "run, the buyers forked (and connected, on a server). Staggered buyers are released as they are forked.",
    )
    sales_per_second: float = Field(description="Tickets that left the db per second of the run.")
    purchase_p50_ms: float = Field(
        0.0, description="From a buyer's decision to buy (after its search) to its answer, at the median."
    )
    purchase_p95_ms: float = 0.0
    store: str = Field("file", description="Where the tickets lived.")
    strategy: str = Field("read-write", description="How the buyers bought.")
    retries: int = Field(
        0,
        description="Writes refused and run again, over every buyer: optimistic compare-and-sets, or serializable "
        "transactions the store refused with a serialization failure (SQLSTATE 40001).",
    )
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
    verdict_facts: Fact | None = Field(None, description="The verdict as facts, to say it in another language.")
    explanation_facts: list[Fact] = Field([], description="The explanation as facts, to say it in another language.")

    def spoken(self, lang: str) -> Result:
        """This result with its verdict and explanation said in `lang` (workers.speech.LANGUAGES)."""
        if lang == DEFAULT or self.verdict_facts is None:
            return self
        return self.model_copy(
            update={"verdict": say([self.verdict_facts], lang), "explanation": say(self.explanation_facts, lang)}
        )

    @model_validator(mode="before")
    @classmethod
    def _from_an_earlier_version(cls, data: Any) -> Any:
        """A result stored before buyers could give up (they failed instead) and before the verdict: fill in."""
        if isinstance(data, dict) and "verdict" not in data:
            data = {"buyers_gave_up": 0, "lock_wait_histogram": [], **data}
            data["verdict_facts"], data["verdict_kind"] = verdict(
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
            data["verdict"] = say([data["verdict_facts"]])
        return data


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))  # the nearest rank
    return ordered[rank]


def max_in_critical(records: Sequence[BuyerRecord]) -> int:
    """The largest number of buyers whose read-to-write windows overlap at one instant.

    Every window's opening and closing go into one sorted list of integers, an opening at instant t as 2t and a
    closing as 2t + 1, so that at one instant the openings come first (a window that closes as another opens
    overlaps it). After the p-th event (from 1) of which c were closings, p - 2c windows are open. All of it runs
    in C: sorting integers, then counting (no Python code per record, no tuple per record).
    """
    opened = [r.t_read << 1 for r in records if r.t_read is not None]
    closed = [(r.t_read if r.t_write is None else r.t_write) << 1 | 1 for r in records if r.t_read is not None]
    events = opened + closed
    events.sort()
    closings = accumulate(map((1).__and__, events))
    return max(map(sub, itertools.count(1), map((2).__mul__, closings)), default=0)


def lock_waits(records: Sequence[BuyerRecord]) -> tuple[list[float], list[float]]:
    """The waits in ms of the buyers who got the lock, and of those who gave up (until they gave up)."""
    got = [
        (r.t_lock_acquired - r.t_lock_requested) / 1e6
        for r in records
        if r.t_lock_acquired is not None and r.t_lock_requested is not None
    ]
    gave_up = [
        (r.t_end - r.t_lock_requested) / 1e6
        for r in records
        if r.outcome == "gave_up"
        and r.t_lock_acquired is None
        and r.t_lock_requested is not None
        and r.t_end is not None
    ]
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
        for bucket, n in Counter(map(int, map(truediv, waits, repeat(width)))).items():  # int(wait / width) each
            tally[min(buckets - 1, bucket)] += n
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
    sales = [
        (r.read, r)
        for r in records
        if r.outcome == "success" and r.read is not None and r.t_read is not None and r.t_write is not None
    ]
    shared = {count for count, n in Counter(read for read, _ in sales).items() if n > 1}  # read by two or more
    by_count: defaultdict[int, list[BuyerRecord]] = defaultdict(list)
    for read, r in sales:
        if read in shared:
            by_count[read].append(r)
    conflicts = []
    for count, group_sales in by_count.items():
        by_read = sorted(group_sales, key=lambda r: (r.t_read, r.buyer))
        grouped: set[int] = set()
        next_reader = 0
        for first in sorted(group_sales, key=lambda r: (r.t_write, r.buyer)):
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
                        last_writer=_last_writer(group),
                    )
                )
    conflicts.sort(key=lambda c: (-c.size, -c.read, c.first_writer))
    return conflicts[:MAX_CONFLICTS]


def _last_writer(group: Sequence[BuyerRecord]) -> int | None:
    """The buyer of `group` who wrote last, None when two wrote at the same instant last."""
    ordered = sorted(group, key=lambda r: r.t_write or 0)
    if len(ordered) > 1 and ordered[-1].t_write == ordered[-2].t_write:
        return None
    return ordered[-1].buyer


def _n(key: str, n: int) -> Fact:
    return fact(f"n.{key}", n=n)


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
    waited_for: Fact | None,
    home: Fact | None = None,
) -> tuple[Fact, VerdictKind]:
    """The headline and its kind: whether a seat was sold twice, and which buyers got no answer.

    `waited_for`: what every buyer who gave up had been waiting for (the lock), if they all waited for it;
    `home`: where the tickets live (`TicketStore.home`; None: the db).
    """
    who = None
    if gave_up or errored:
        lock = {"lock": waited_for} if waited_for else {}
        if gave_up and errored:
            what = fact(
                "who.gave_up_and_errored_for" if waited_for else "who.gave_up_and_errored", errored=errored, **lock
            )
        elif gave_up:
            what = fact("who.gave_up_for" if waited_for else "who.gave_up", **lock)
        else:
            what = fact("who.errored")
        who = fact("who", n=gave_up or errored, buyers=_n("buyers", buyers_total), what=what)
    if oversold:
        head = fact("verdict.oversold", tickets=_n("tickets", handed_out), seats=_n("seats", tickets_initial))
    elif lost_updates:
        head = fact(
            "verdict.lost_from",
            tickets=_n("tickets", handed_out),
            sold=sold,
            lost=_n("lost_updates", lost_updates),
            home=home or fact("home.db"),
        )
    elif who is not None:
        return fact("verdict.incomplete", who=who), "incomplete"
    else:
        return fact("verdict.safe"), "safe"
    return (fact("verdict.unsafe_and", head=head, who=who) if who else head), "unsafe"


def explain(
    result: Result,
    lock: Fact | None,
    gave_up_waits: Sequence[float] = (),
    gave_up_reasons: Counter[str] | None = None,
    story: tuple[Fact | None, Fact | None] = (None, None),
    home: Fact | None = None,
    anomaly: Fact | None = None,
    reason_facts: Mapping[str, Fact] | None = None,
) -> list[Fact]:
    """What happened, with witnesses, as facts for `workers.speech` to say (`lock` None: no lock).

    `gave_up_waits`: how long the buyers who gave up on the lock had waited; `gave_up_reasons`: what every buyer
    who gave up said, and how many said it; `home`: where the tickets live (None: the db); `anomaly`: the
    store's words for the largest conflict (`workers.witnesses.store_anomaly`), said right after it;
    `reason_facts`: the reasons that are facts too, by their English words.
    """
    r = result
    opening, closing = story
    parts = [opening] if opening else []
    home = home or fact("home.db")
    if r.conflicts:
        c = r.conflicts[0]
        names = {"names": c.buyers, "size": c.size}
        together = fact("both" if c.size == 2 else "all")
        parts.append(
            fact(
                "explain.conflict.seat" if c.read == 1 else "explain.conflict.lost",  # one seat, or lost updates
                buyers=names,
                all=together,
                read=c.read,
                first=c.first_writer,
                wrote=c.read - 1,
                size=c.size,
                extra=c.size - 1,
                lost=_n("lost_updates", c.size - 1),
            )
        )
        if anomaly:
            parts.append(anomaly)
    elif r.max_in_critical <= 1 and lock is not None:
        parts.append(fact("explain.turns", lock=lock))
    told = fact("told", n=r.tickets_handed_out)
    sold, left = _n("tickets", r.tickets_sold), fact("left", n=r.tickets_remaining)
    if r.safe:
        parts.append(fact("explain.in_all.safe_from", told=told, sold=sold, left=left, home=home))
    else:
        parts.append(
            fact(
                "explain.in_all.unsafe_from",
                home=home,
                told=told,
                sold=sold,
                left=left,
                oversold=r.oversold,
                lost=_n("lost_updates", r.lost_updates),
            )
        )
    if r.buyers_sold_out:
        parts.append(fact("explain.sold_out", buyers=_n("buyers", r.buyers_sold_out)))
    if r.max_in_critical > 1 and r.strategy != "seller":  # the seller decides a round's requests from one read
        parts.append(fact("explain.overlap", n=r.max_in_critical))
    everyone = _n("buyers", r.buyers_total)
    if r.buyers_gave_up and lock is not None and len(gave_up_waits) == r.buyers_gave_up:
        parts.append(
            fact("explain.gave_up_waiting", n=r.buyers_gave_up, buyers=everyone, lock=lock, ms=min(gave_up_waits))
        )
    elif r.buyers_gave_up:
        reasons = (gave_up_reasons or Counter()).most_common()
        for reason, n in reasons[:3]:
            said_as = (reason_facts or {}).get(reason, reason)
            parts.append(fact("explain.gave_up_because", n=n, buyers=everyone, reason=said_as))
        if len(reasons) > 3:
            parts.append(fact("explain.gave_up_other", n=sum(n for _, n in reasons[3:])))
    if r.lock_wait_max_ms > 0 and lock is not None:
        key = "explain.lock_wait_gave_up" if r.buyers_gave_up else "explain.lock_wait"
        parts.append(fact(key, lock=lock, p50=r.lock_wait_p50_ms, max=r.lock_wait_max_ms))
    if r.queue_wait_p95_ms > 0:
        parts.append(fact("explain.queue_wait", p50=r.queue_wait_p50_ms, p95=r.queue_wait_p95_ms))
    if r.buyers_errored:
        parts.append(fact("explain.errored", buyers=_n("buyers", r.buyers_errored)))
    if closing:
        parts.append(closing)
    return parts


def analyse(
    records: Sequence[BuyerRecord],
    *,
    tickets_initial: int,
    tickets_remaining: int,
    duration_ns: int,
    store: str = "file",
    strategy: str = "read-write",
    lock: str = "none",
    permits: int | None = None,
    schedule: list[int] | None = None,
    lock_ttl_ms: int | None = None,
    home: Fact | None = None,
) -> Result:
    """The result of a run from its records (the store, strategy and lock name what the run was; `lock_ttl_ms` is
    the Redis lock's life; `home` where the tickets live, `TicketStore.home`)."""
    lock_named = waited_on(store, strategy, lock_fact(lock, permits) if lock != "none" else None)
    outcomes = Counter(map(attrgetter("outcome"), records))
    succeeded, sold_out, gave_up = outcomes["success"], outcomes["sold_out"], outcomes["gave_up"]
    errored = len(records) - succeeded - sold_out - gave_up
    sold = tickets_initial - tickets_remaining
    got, gave_up_waits = lock_waits(records) if lock_named is not None else ([], [])  # no lock: nobody waits
    quitters = [r for r in records if r.outcome == "gave_up"]
    gave_up_reasons = Counter(r.error or "gave up" for r in quitters)
    reason_facts = {r.error: r.error_fact for r in quitters if r.error is not None and r.error_fact is not None}
    reason_facts["gave up"] = fact("who.gave_up")  # a buyer that gave up without saying why
    waits = got + gave_up_waits
    waits.sort()
    extra: CureFigures = figures(strategy, records)
    queue_waits = sorted(extra.queue_waits_ms)
    purchases = [
        (r.t_end - r.t_searched) / 1e6
        for r in records
        if r.outcome in ("success", "sold_out") and r.t_end is not None and r.t_searched is not None
    ]
    purchases.sort()
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
        waited_for=lock_named if lock_named is not None and len(gave_up_waits) == gave_up else None,
        home=home,
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
        verdict=say([headline]),
        verdict_kind=kind,
        verdict_facts=headline,
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
    story = cure_story(strategy, lock, permits, records, extra, oversold, lock_ttl_ms)
    anomaly = store_anomaly(store, strategy, result.conflicts[0]) if result.conflicts else None
    result.explanation_facts = explain(
        result, lock_named, gave_up_waits, gave_up_reasons, story, home, anomaly, reason_facts=reason_facts
    )
    result.explanation = say(result.explanation_facts)
    return result

"""What each cure did, told with witnesses from the records: the sentences and figures that belong to one
strategy (the semaphore's permits, the optimistic buyers' refused writes, the seller's rounds and queue).

`workers.analysis` computes what every run shares and calls `cure_story` for the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from workers.messages import BuyerRecord
from workers.speech import Fact, fact


class CureFigures(NamedTuple):
    """The figures one strategy adds to a result (0 where they do not apply)."""

    retries: int = 0
    queue_waits_ms: tuple[float, ...] = ()  # seller: from sending a request to the seller taking it
    seller_rounds: int = 0  # seller: read-decide-write rounds
    most_per_round: int = 0  # seller: the most requests decided from one read


def figures(strategy: str, records: Sequence[BuyerRecord]) -> CureFigures:
    if strategy == "optimistic":
        return CureFigures(retries=sum(r.retries or 0 for r in records))
    if strategy == "seller":
        waits = tuple(
            (r.t_lock_acquired - r.t_lock_requested) / 1e6
            for r in records
            if r.t_lock_acquired is not None and r.t_lock_requested is not None
        )
        rounds: dict[int, int] = {}
        for r in records:
            if r.t_read is not None:
                rounds[r.t_read] = rounds.get(r.t_read, 0) + 1
        return CureFigures(
            queue_waits_ms=waits, seller_rounds=len(rounds), most_per_round=max(rounds.values(), default=0)
        )
    return CureFigures()


def cure_story(
    strategy: str, lock: str, permits: int | None, records: Sequence[BuyerRecord], extra: CureFigures, oversold: int
) -> tuple[Fact | None, Fact | None]:
    """(a fact to open the explanation with, one to close it with), either None where there is nothing to add."""
    if strategy == "read-write" and lock == "semaphore" and permits:
        if permits == 1:
            return None, fact("cure.semaphore.lock")
        closing = fact("cure.semaphore.lock") if oversold else None
        return fact("cure.semaphore.permits", n=permits), closing
    if strategy == "optimistic":
        return None, _optimistic(records, extra.retries)
    if strategy == "seller":
        return _seller(records, extra), None
    return None, None


def _optimistic(records: Sequence[BuyerRecord], retries: int) -> Fact:
    if not retries:
        return fact("cure.optimistic.none_refused")
    witness = max(records, key=lambda r: (r.retries or 0, -r.buyer))
    start, end = witness.t_searched, witness.t_read
    beat_it = [
        r.buyer
        for r in sorted(records, key=lambda r: r.t_write or 0)
        if r.outcome == "success" and r.buyer != witness.buyer and r.t_write is not None
        and start is not None and end is not None and start <= r.t_write <= end
    ]  # fmt: skip
    tries = witness.retries or 0
    if len(beat_it) > 1:
        who = fact("cure.optimistic.first_many", buyers={"names": beat_it, "size": len(beat_it)})
    elif beat_it:
        who = fact("cure.optimistic.first_one", buyer=beat_it[0])
    else:
        who = fact("empty")
    return fact(
        "cure.optimistic.refused",
        buyer=witness.buyer,
        times=fact("n.times", n=tries),
        who=who,
        when=fact("cure.optimistic.when", n=tries),
        writes=fact("cure.optimistic.writes", n=retries),
    )


def _seller(records: Sequence[BuyerRecord], extra: CureFigures) -> Fact:
    answered = sum(1 for r in records if r.outcome in ("success", "sold_out"))
    most = fact("cure.seller.most", n=extra.most_per_round) if extra.most_per_round > 1 else fact("empty")
    return fact(
        "cure.seller",
        answered=answered,
        requests=fact("n.requests", n=len(records)),
        rounds=fact("n.rounds", n=extra.seller_rounds),
        most=most,
    )

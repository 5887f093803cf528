"""What each cure did, told with witnesses from the records: the sentences and figures that belong to one
strategy (the semaphore's permits, the optimistic buyers' refused writes, the seller's rounds and queue).

`workers.analysis` computes what every run shares and calls `cure_story` for the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from workers.messages import BuyerRecord


class CureFigures(NamedTuple):
    """The figures one strategy adds to a result (0 where they do not apply)."""

    retries: int = 0
    queue_waits_ms: tuple[float, ...] = ()  # seller: from sending a request to the seller taking it
    seller_rounds: int = 0  # seller: read-decide-write rounds
    most_per_round: int = 0  # seller: the most requests decided from one read


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _listed(names: Sequence[int]) -> str:
    shown = [str(n) for n in names[:5]]
    if len(names) > len(shown):
        return ", ".join(shown) + f" and {_plural(len(names) - len(shown), 'other')}"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"


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
) -> tuple[str | None, str | None]:
    """(a sentence to open the explanation with, one to close it with), either None where there is nothing to add."""
    if strategy == "read-write" and lock == "semaphore" and permits:
        if permits == 1:
            return None, "A semaphore with one permit is a lock."
        opening = f"The semaphore's {permits:,} permits let up to {permits:,} buyers between read and write at once."
        closing = "A semaphore with one permit is a lock." if oversold else None
        return opening, closing
    if strategy == "optimistic":
        return None, _optimistic(records, extra.retries)
    if strategy == "seller":
        return _seller(records, extra), None
    return None, None


def _optimistic(records: Sequence[BuyerRecord], retries: int) -> str:
    if not retries:
        return "No buyer's write was refused: nobody wrote between another's read and write."
    witness = max(records, key=lambda r: (r.retries or 0, -r.buyer))
    start, end = witness.t_searched, witness.t_read
    beat_it = sorted(
        (r for r in records if r.outcome == "success" and r.buyer != witness.buyer and r.t_write is not None
         and start is not None and end is not None and start <= r.t_write <= end),
        key=lambda r: r.t_write or 0,
    )  # fmt: skip
    tries = witness.retries or 0
    who = (
        f" (buyers {_listed([r.buyer for r in beat_it])} wrote first)"
        if len(beat_it) > 1
        else (f" (buyer {beat_it[0].buyer} wrote first)" if beat_it else "")
    )
    return (
        f"Buyer {witness.buyer}'s write was refused {_plural(tries, 'time')}{who}: "
        f"{'each time' if tries > 1 else 'then'} the version it had read was no longer the latest, so it read the "
        "count again instead of writing over a sale. "
        f"In all {_plural(retries, 'write')} {'was' if retries == 1 else 'were'} refused and retried; no sale was lost."
    )


def _seller(records: Sequence[BuyerRecord], extra: CureFigures) -> str:
    answered = sum(1 for r in records if r.outcome in ("success", "sold_out"))
    rounds = extra.seller_rounds
    text = (
        f"One seller answered {answered:,} of {_plural(len(records), 'request')} in turn, in "
        f"{_plural(rounds, 'round')}, each one read of the count and, when it sold, one write"
    )
    if extra.most_per_round > 1:
        text += f" (up to {extra.most_per_round:,} requests decided from one read)"
    return text + "; no buyer touched the store, so no two sold from the same count."

"""What each cure did, told with witnesses from the records: the sentences and figures that belong to one
strategy or one store (the semaphore's permits, the optimistic buyers' refused writes, the seller's rounds and
queue, PostgreSQL's serialization failures, a Redis lock that expired during a hold, a lost update in the
store's own terms).

`workers.analysis` computes what every run shares and calls `cure_story`, `store_anomaly` and `waited_on` for
the rest.

A Redis lock whose time to live runs out while its holder is still between read and write lets the next
buyer's SET NX in. The records tell it: buyer Y got the lock (t_lock_acquired) after buyer X had and before X
wrote, so X had not let go. Which of the two SETs came first is known when Y asked for the lock (its
t_lock_requested) less than a time to live before X got it: had Y's SET come first, Y's key would have had to
expire before X's SET, a time to live after Y asked. Then X's key was the one that expired, while X held it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from workers.messages import BuyerRecord
from workers.speech import Fact, fact
from workers.support import RETRYING

MS = 1_000_000


class CureFigures(NamedTuple):
    """The figures one strategy adds to a result (0 where they do not apply)."""

    retries: int = 0  # optimistic: refused compare-and-sets; serializable: transactions refused and rerun
    queue_waits_ms: tuple[float, ...] = ()  # seller: from sending a request to the seller taking it
    seller_rounds: int = 0  # seller: read-decide-write rounds
    most_per_round: int = 0  # seller: the most requests decided from one read


class Conflicting(Protocol):
    """What `store_anomaly` reads of a conflict (workers.analysis.Conflict)."""

    read: int
    size: int
    buyers: list[int]
    last_writer: int | None


def figures(strategy: str, records: Sequence[BuyerRecord]) -> CureFigures:
    if strategy in RETRYING:
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


def waited_on(store: str, strategy: str, lock: Fact | None) -> Fact | None:
    """What a buyer waits for from t_lock_requested to t_lock_acquired: read-write's `lock`, or the store's own
    write lock that a for-update transaction takes from its read on; None: no buyer waits for a lock."""
    if strategy == "for-update":
        if store == "postgres":
            return fact("write_lock.postgres")
        if store == "sqlite":
            return fact("write_lock.sqlite")
    return lock


def store_anomaly(store: str, strategy: str, conflict: Conflicting) -> Fact | None:
    """The lost update of the largest conflict in the store's own terms: why nothing kept the buyers apart, and
    whose writes the last writer's went over. None for the stores of the lesson (file, memory)."""
    key = {"postgres": "anomaly.postgres", "sqlite": "anomaly.sqlite", "redis": "anomaly.redis"}.get(store)
    if strategy != "read-write" or key is None or conflict.last_writer is None:
        return None
    overwritten = [b for b in conflict.buyers if b != conflict.last_writer]
    return fact(
        key,
        n=conflict.size - 1,
        last=conflict.last_writer,
        wrote=conflict.read - 1,
        overwritten={"names": overwritten, "size": conflict.size - 1},
    )


def cure_story(
    strategy: str,
    lock: str,
    permits: int | None,
    records: Sequence[BuyerRecord],
    extra: CureFigures,
    oversold: int,
    lock_ttl_ms: int | None = None,
) -> tuple[Fact | None, Fact | None]:
    """(a fact to open the explanation with, one to close it with), either None where there is nothing to add."""
    if strategy == "read-write" and lock == "redis" and lock_ttl_ms:
        return _expired_lock(records, lock_ttl_ms), None
    if strategy == "read-write" and lock == "semaphore" and permits:
        if permits == 1:
            return None, fact("cure.semaphore.lock")
        closing = fact("cure.semaphore.lock") if oversold else None
        return fact("cure.semaphore.permits", n=permits), closing
    if strategy == "optimistic":
        return None, _optimistic(records, extra.retries)
    if strategy == "seller":
        return _seller(records, extra), None
    if strategy == "serializable":
        return None, _serializable(records, extra.retries)
    return None, None


def _expired_lock(records: Sequence[BuyerRecord], ttl_ms: int) -> Fact | None:
    """Who got the Redis lock while an earlier holder had not yet written, with the first such buyer whose times
    show that an earlier holder's key was the one that expired (see the module's docstring); None if none did.

    The holders are taken in the order they got the lock; a heap keeps those who wrote, by when they got it,
    dropping each once the lock is got after its write: its top is the earliest holder not yet written.
    """
    holders = sorted(
        (r for r in records if r.t_lock_acquired is not None and r.t_lock_requested is not None),
        key=lambda r: (r.t_lock_acquired, r.buyer),
    )
    ttl = ttl_ms * MS
    writing: list[tuple[int, int, BuyerRecord]] = []  # (got the lock, buyer, record) of holders who wrote
    intruders = 0
    witness: tuple[BuyerRecord, BuyerRecord] | None = None
    for r in holders:
        got = r.t_lock_acquired or 0
        while writing and (writing[0][2].t_write or 0) <= got:
            heapq.heappop(writing)  # wrote before r got the lock: no longer between read and write
        if writing and writing[0][0] < got:
            intruders += 1
            if witness is None and writing[0][0] < (r.t_lock_requested or 0) + ttl:
                witness = writing[0][2], r
        if r.t_write is not None:
            heapq.heappush(writing, (got, r.buyer, r))
    if witness is None:
        return None
    holder, intruder = witness
    got, wrote = holder.t_lock_acquired or 0, holder.t_write or 0
    return fact(
        "cure.redis_lock.expired",
        holder=holder.buyer,
        intruder=intruder.buyer,
        ttl=ttl_ms,
        held=(wrote - got) / MS,
        after=((intruder.t_lock_acquired or 0) - got) / MS,
        more=fact("cure.redis_lock.more", n=intruders) if intruders > 1 else fact("empty"),
    )


def _serializable(records: Sequence[BuyerRecord], retries: int) -> Fact | None:
    """Whose transactions PostgreSQL refused and reran; that none was refused only when nobody gave up either (a
    buyer that gave up at its first refusal reran nothing)."""
    refused = sorted((r for r in records if r.retries), key=lambda r: r.buyer)
    if not refused:
        return None if any(r.outcome == "gave_up" for r in records) else fact("cure.serializable.none_refused")
    most = max(refused, key=lambda r: (r.retries or 0, -r.buyer))
    return fact(
        "cure.serializable.refused",
        n=len(refused),
        refusals=fact("n.transactions", n=retries),
        buyers={"names": [r.buyer for r in refused], "size": len(refused)},
        most=fact("cure.serializable.most", buyer=most.buyer, times=fact("n.times", n=most.retries))
        if len(refused) > 1 and (most.retries or 0) > 1
        else fact("empty"),
    )


def _optimistic(records: Sequence[BuyerRecord], retries: int) -> Fact | None:
    """Whose write was refused and who wrote first; that none was refused only when nobody gave up either (a buyer
    allowed no retry gives up at its first refused write, and retries nothing)."""
    if not retries:
        return None if any(r.outcome == "gave_up" for r in records) else fact("cure.optimistic.none_refused")
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

"""What the store tests check of a real run's explanation against its records: the lost update in the store's
words, and the waits for the store's own write lock (for-update)."""

from __future__ import annotations

import math
import re

from tests.workers.test_witnesses import ANOMALY
from workers import BuyerRecord, Result

MS = 1_000_000


def check_lost_update(store: str, result: Result, records: list[BuyerRecord]) -> None:
    """The store's sentence names a last writer whose write came after those of every buyer named, all of whom
    read the count it read before any of them wrote."""
    found = re.search(ANOMALY[store], result.explanation)
    assert found is not None, result.explanation
    by_buyer = {r.buyer: r for r in records}
    last = by_buyer[int(found["last"])]
    names = [int(n) for n in found["names"].split(", ")] + ([int(found["and"])] if found["and"] else [])
    assert len(names) + int(found["others"] or 0) == result.lost_updates  # one reading: every sale but one lost
    first_write = min(by_buyer[b].t_write for b in names)  # type: ignore[type-var]
    assert last.t_read < first_write  # type: ignore[operator]
    for b in names:
        r = by_buyer[b]
        assert r.read == last.read and r.t_read < first_write < last.t_write  # type: ignore[operator]
        assert r.t_write < last.t_write  # type: ignore[operator]


def nearest_rank(ordered: list[float], fraction: float) -> float:
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def check_write_lock_waits(result: Result, records: list[BuyerRecord], lock: str, hold_ms: float) -> None:
    """One ticket, for-update: the waits the result reports are the records' waits for the store's write lock,
    and every buyer who asked for it while the winner held it got it only once the winner had written, so it
    waited out the rest of the winner's hold (the whole hold, for those who asked before the winner got it)."""
    waits = sorted((r.t_lock_acquired - r.t_lock_requested) / MS for r in records)  # type: ignore[operator]
    assert len(waits) == len(records) == sum(b.buyers for b in result.lock_wait_histogram)
    assert result.lock_wait_p50_ms == round(nearest_rank(waits, 0.5), 3)
    assert result.lock_wait_p95_ms == round(nearest_rank(waits, 0.95), 3)
    assert result.lock_wait_max_ms == round(waits[-1], 3) > 0
    (winner,) = [r for r in records if r.outcome == "success"]
    assert winner.t_write - winner.t_lock_acquired >= hold_ms * MS  # type: ignore[operator]
    for r in records:
        if r is winner or r.t_lock_requested > winner.t_write:  # type: ignore[operator]
            continue
        assert r.t_lock_acquired > winner.t_write  # type: ignore[operator]
        if r.t_lock_requested <= winner.t_lock_acquired:  # type: ignore[operator]
            assert r.t_lock_acquired - r.t_lock_requested >= hold_ms * MS  # type: ignore[operator]
    assert result.explanation.startswith(f"With the {lock}, buyers took turns")
    assert (
        f"Waiting for the {lock} took {result.lock_wait_p50_ms:,.1f} ms at the median and "
        f"{result.lock_wait_max_ms:,.1f} ms at most." in result.explanation
    )

"""Each cure's own sentences are true of its records: the semaphore's permits, the refused writes, the seller."""

from __future__ import annotations

import re
from pathlib import Path

from workers import SimulationConfig, run_simulation

LESSON = {"buyers": 10, "tickets": 1, "think_ms": 0, "hold_ms": 150}


def test_a_semaphore_run_says_how_many_permits_let_buyers_in_and_that_one_permit_is_a_lock(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**LESSON, lock="semaphore", permits=3), run_dir)
    text = report.result.explanation
    assert text.startswith("The semaphore's 3 permits let up to 3 buyers between read and write at once.")
    named = re.search(r"Buyers (\d+), (\d+) and (\d+) all read count=1 before buyer (\d+) wrote 0", text)
    assert named is not None, text
    winners = sorted(r.buyer for r in report.records if r.outcome == "success")
    assert sorted(int(b) for b in named.groups()[:3]) == winners
    assert text.endswith("A semaphore with one permit is a lock.")
    assert report.result.verdict == "Oversold: 3 tickets handed out for 1 seat"


def test_an_optimistic_run_names_a_refused_buyer_and_who_wrote_first(run_dir: Path) -> None:
    every = list(range(1, 11))  # all search, all read version 0, all write: one goes through, nine are refused
    report = run_simulation(SimulationConfig(buyers=10, tickets=1, strategy="optimistic", schedule=every * 3), run_dir)
    result = report.result
    assert result.retries == sum(r.retries or 0 for r in report.records) >= 9
    found = re.search(
        r"Buyer (\d+)'s write was refused (\d+) times? \(buyers? ([\d, and]+) wrote first\)", result.explanation
    )
    assert found is not None, result.explanation
    witness = next(r for r in report.records if r.buyer == int(found.group(1)))
    assert witness.retries == int(found.group(2))
    for writer in (int(b) for b in re.findall(r"\d+", found.group(3))):
        wrote = next(r for r in report.records if r.buyer == writer).t_write
        assert wrote is not None and witness.t_searched <= wrote <= witness.t_read  # type: ignore[operator]
    assert f"In all {result.retries} writes were refused and retried; no sale was lost." in result.explanation


def test_a_seller_run_counts_its_rounds_and_the_queue_wait_from_the_records(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(**LESSON, strategy="seller"), run_dir)
    result = report.result
    rounds = {r.t_read for r in report.records if r.t_read is not None}
    assert result.seller_rounds == len(rounds)
    assert result.explanation.startswith(
        f"One seller answered 10 of 10 requests in turn, in {len(rounds)} round{'s' if len(rounds) > 1 else ''}"
    )
    assert "Up to" not in result.explanation  # a round's requests share one read, not a race
    waits = sorted((r.t_lock_acquired - r.t_lock_requested) / 1e6 for r in report.records)  # type: ignore[operator]
    assert result.queue_wait_p95_ms == round(waits[9], 3)
    assert result.lock_wait_max_ms == 0  # nobody waits for a lock; they wait in the seller's queue
    assert result.strategy == "seller" and result.store == "file"

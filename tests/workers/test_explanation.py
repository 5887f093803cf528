"""Every claim the explanation and the conflicts make is checked against the buyers' records.

The records come from simulated histories of a shared counter (buyers' reads and writes interleaved at random,
each read seeing the last write, timestamps taken a little after each step as a real buyer takes them) and
from real runs at scale. The checker reads the sentence back, names and numbers, and tests each one against
the timestamps and counts of the records, never against the analysis that wrote it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from workers import BuyerRecord, Result, SimulationConfig, run_simulation
from workers.analysis import analyse

HEAD = re.compile(
    r"^Buyers (?P<names>[\d, ]+?)(?: and (?P<others>[\d,]+) others?| and (?P<last>\d+)) (?:both|all) read "
    r"count=(?P<read>[\d,]+) "
    r"before buyer (?P<writer>\d+) wrote (?P<wrote>[\d,]+); each wrote (?P<each>[\d,]+), so (?P<size>[\d,]+) "
    r"(?:tickets were handed out for 1 seat \((?P<oversold>[\d,]+) oversold\)"
    r"|sales took only 1 ticket off the count \((?P<lost>[\d,]+) lost updates?\))\. "
)
IN_ALL = re.compile(
    r"In all, (?P<handed>[\d,]+) buyers? (?:was|were) told they got a ticket, (?P<sold>[\d,]+) tickets? left the db "
    r"and (?P<remaining>[\d,]+) remains?(?:: (?P<oversold>[\d,]+) oversold, (?P<lost>[\d,]+) lost updates?\.|"
    r"; nothing oversold\.)"
)
SOLD_OUT = re.compile(r"(?P<n>[\d,]+) buyers? found it sold out\.")
OVERLAP = re.compile(r"Up to (?P<n>[\d,]+) buyers were between read and write at the same moment\.")


def number(text: str) -> int:
    return int(text.replace(",", ""))


def named(names: str) -> list[int]:
    return [int(n) for n in names.split(", ")]


def most_in_read_to_write(records: list[BuyerRecord]) -> int:
    """A sweep over window starts and ends; a window that ends when another starts still overlaps it."""
    events = []
    for r in records:
        if r.t_read is not None:
            events += [(r.t_read, 0), (r.t_write if r.t_write is not None else r.t_read, 1)]
    most = open_now = 0
    for _, is_end in sorted(events):
        open_now += -1 if is_end else 1
        most = max(most, open_now)
    return most


def check_claims(result: Result, records: list[BuyerRecord], tickets: int, true_lost: int | None = None) -> None:
    """Assert that every named buyer, every "read before X wrote" and every count is true of `records`."""
    by_buyer = {r.buyer: r for r in records}
    sales = [r for r in records if r.outcome == "success"]
    reads_of: defaultdict[int, list[int]] = defaultdict(list)  # count read -> when each sale from it read
    for r in sales:
        assert r.read is not None and r.t_read is not None and r.t_write is not None
        assert r.wrote == r.read - 1
        reads_of[r.read].append(r.t_read)
    handed_out, sold = len(sales), tickets - result.tickets_remaining
    oversold, lost = max(0, handed_out - tickets), handed_out - sold
    if true_lost is not None:
        assert lost == true_lost

    def read_before(buyer: int, count: int, writer: int) -> bool:
        r, w = by_buyer[buyer], by_buyer[writer]
        return r.outcome == "success" and r.read == count and r.t_read < w.t_write  # type: ignore[operator]

    def read_before_writer(count: int, writer: int) -> int:
        w = by_buyer[writer]
        return sum(t < w.t_write for t in reads_of[count])  # type: ignore[operator]

    text = result.explanation
    head = HEAD.match(text)
    if result.conflicts:
        assert head, text
        count, writer, size = number(head["read"]), int(head["writer"]), number(head["size"])
        names = named(head["names"]) + ([int(head["last"])] if head["last"] else [])
        assert size == len(names) + (number(head["others"]) if head["others"] else 0)
        assert by_buyer[writer].outcome == "success" and by_buyer[writer].read == count
        assert number(head["wrote"]) == number(head["each"]) == count - 1
        assert len(set(names)) == len(names) and all(read_before(b, count, writer) for b in names), text
        assert read_before_writer(count, writer) >= size, text  # the unnamed others exist too
        if head["oversold"] is not None:
            assert count == 1 and number(head["oversold"]) == size - 1 <= oversold
        else:
            assert number(head["lost"]) == size - 1 <= lost
    else:
        assert head is None
    seen: set[int] = set()
    for c in result.conflicts:
        assert c.first_writer in by_buyer and by_buyer[c.first_writer].read == c.read
        assert all(read_before(b, c.read, c.first_writer) for b in c.buyers), c
        assert len(c.buyers) == min(c.size, 20) and read_before_writer(c.read, c.first_writer) >= c.size
        assert seen.isdisjoint(c.buyers), "a buyer sold from one reading only"
        assert c.size <= most_in_read_to_write(records)  # every window in a group spans its first write
        seen.update(c.buyers)
    assert sum(c.size - 1 for c in result.conflicts) <= lost  # at most one sale from each reading shows

    totals = IN_ALL.search(text)
    assert totals, text
    assert (number(totals["handed"]), number(totals["sold"]), number(totals["remaining"])) == (
        handed_out,
        sold,
        result.tickets_remaining,
    )
    if totals["oversold"] is None:
        assert oversold == lost == 0
    else:
        assert (number(totals["oversold"]), number(totals["lost"])) == (oversold, lost)
    sold_out = sum(r.outcome == "sold_out" for r in records)
    match = SOLD_OUT.search(text)
    assert (number(match["n"]) if match else 0) == sold_out
    match = OVERLAP.search(text)
    most = most_in_read_to_write(records)
    assert (number(match["n"]) if match else 1) == (most if most > 1 else 1)
    assert (result.oversold, result.lost_updates, result.max_in_critical) == (oversold, lost, most)


class History(NamedTuple):
    records: list[BuyerRecord]
    remaining: int
    lost: int  # sales the final count does not show: those off the chain of writes that led to it


@st.composite
def histories(draw: st.DrawFn) -> tuple[History, int]:
    """N buyers on a counter of T: each reads, and if a ticket is left writes one less; steps interleave at random.

    A read sees the last write. Each step happens at an instant; its record's timestamp is taken up to a few
    nanoseconds later, as a real buyer stamps a step after it (so the stamps may cross, as they do in real runs).
    """
    buyers = draw(st.integers(1, 12))
    tickets = draw(st.integers(1, 8))
    count, last_writer = tickets, 0  # 0: the initial count
    source: dict[int, int] = {}
    read: dict[int, tuple[int, int]] = {}  # buyer -> (count read, instant)
    records: list[BuyerRecord] = []
    pending = list(range(1, buyers + 1))
    instant = 0
    lag = st.integers(0, 4)
    while pending:
        buyer = draw(st.sampled_from(pending))
        instant += draw(st.integers(1, 3))
        if buyer not in read:
            read[buyer] = (count, instant)
            source[buyer] = last_writer
            if count > 0:
                continue
            t_read = instant + draw(lag)
            records.append(
                BuyerRecord(buyer, buyer, "sold_out", 0, 0, None, None, 0, 0, 0, instant, t_read, None, t_read)
            )
        else:
            value, at = read[buyer]
            count, last_writer = value - 1, buyer
            t_read = at + draw(lag)
            t_write = max(instant + draw(lag), t_read + 1)
            records.append(
                BuyerRecord(
                    buyer, buyer, "success", value, value, value - 1, None, 0, 0, 0, at, t_read, t_write, t_write
                )
            )
        pending.remove(buyer)
    chain = 0
    while last_writer:
        chain, last_writer = chain + 1, source[last_writer]
    sales = sum(r.outcome == "success" for r in records)
    return History(records, count, sales - chain), tickets


@settings(max_examples=400, deadline=None)
@given(histories())
def test_every_claim_is_true_of_the_records(history_and_tickets: tuple[History, int]) -> None:
    history, tickets = history_and_tickets
    result = analyse(history.records, tickets_initial=tickets, tickets_remaining=history.remaining, duration_ns=1)
    check_claims(result, history.records, tickets, true_lost=history.lost)


def test_sales_after_a_stale_write_are_not_said_to_have_read_before_the_first_write() -> None:
    """Count 3,591: buyer 1 reads it and stalls; buyer 2 sells (3,590), buyer 3 reads 3,590 and sells (3,589),
    buyer 1 writes 3,590 (stale), and buyers 4 and 5 read that 3,590, after buyer 3 wrote, and both sell."""

    def sale(buyer: int, value: int, t_read: int, t_write: int) -> BuyerRecord:
        return BuyerRecord(buyer, buyer, "success", value, value, value - 1, None, 0, 0, 0, 0, t_read, t_write, t_write)

    records = [sale(1, 3591, 1, 50), sale(2, 3591, 2, 3), sale(3, 3590, 10, 20), sale(4, 3590, 60, 70)]
    records.append(sale(5, 3590, 61, 71))
    result = analyse(records, tickets_initial=3591, tickets_remaining=3589, duration_ns=71)
    check_claims(result, records, 3591)
    assert {(c.read, c.first_writer, tuple(c.buyers)) for c in result.conflicts} == {
        (3591, 2, (1, 2)),
        (3590, 4, (4, 5)),
    }
    assert all(3 not in c.buyers for c in result.conflicts)


def test_a_pool_run_at_scale_says_only_what_its_records_show(tmp_path: Path) -> None:
    """Two pool workers without a lock: while one holds its read-to-write window open (0.1 ms asleep) the other
    reads the count, so thousands of sales overlap and the count is pushed back up by stale writes."""
    config = SimulationConfig(
        buyers=20_000, tickets=5_000, lock="none", executor="pool", workers=2, think_ms=0, hold_ms=0.1, seed=3
    )
    report = run_simulation(config, tmp_path / "run")
    result = report.result
    assert result.lost_updates > 100 and len(result.conflicts) == 10
    revisited = Counter(r.read for r in report.records if r.outcome == "success")
    assert any(n > 2 for n in revisited.values())  # some count was read again after a stale write
    check_claims(result, report.records, config.tickets)


def test_buyers_who_give_up_on_the_lock_are_counted_not_failed(tmp_path: Path) -> None:
    """One buyer holds the process lock for two seconds; the other nine wait 50 ms for it and give up."""
    config = SimulationConfig(buyers=10, tickets=1, lock="process", think_ms=0, hold_ms=2000, lock_timeout_s=0.05)
    report = run_simulation(config, tmp_path / "run")
    result = report.result
    gave_up = [r for r in report.records if r.outcome == "gave_up"]
    assert len(gave_up) == result.buyers_gave_up == 9 and result.buyers_errored == 0
    for r in gave_up:
        assert r.error == "gave up after waiting 0.05 s for the process lock"
        assert r.t_lock_requested is not None and r.t_lock_acquired is None and r.t_end is not None
        assert r.t_end - r.t_lock_requested >= 50_000_000
    assert result.lock_wait_p50_ms >= 50 and result.lock_wait_max_ms >= 50
    assert result.verdict == "No seat sold twice, but 9 of 10 buyers gave up waiting for the process lock"
    assert sum(b.buyers for b in result.lock_wait_histogram) == 10
    assert sum(b.gave_up for b in result.lock_wait_histogram) == 9


def test_buyers_who_give_up_retrying_are_not_said_to_have_waited_for_a_lock(tmp_path: Path) -> None:
    """Ten optimistic buyers all read version 0 (the schedule says so): one write goes through, nine are refused."""
    every = list(range(1, 11))
    config = SimulationConfig(
        buyers=10, tickets=10, strategy="optimistic", max_retries=0, schedule=every + every + every
    )
    result = run_simulation(config, tmp_path / "run").result
    assert result.buyers_gave_up == 9 and result.lock_wait_histogram == []
    assert (result.verdict, result.verdict_kind) == ("No seat sold twice, but 9 of 10 buyers gave up", "incomplete")
    assert "9 of 10 buyers gave up after 0 retries: another buyer wrote first every time." in result.explanation
    assert "lock" not in result.explanation

"""Each cure's own sentences are true of its records: the semaphore's permits, the refused writes, the seller."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.workers.test_explanation import History, check_claims, histories
from workers import BuyerRecord, SimulationConfig, run_simulation
from workers.analysis import analyse

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


def test_an_optimistic_run_does_not_say_no_write_was_refused_when_a_buyer_gave_up_at_its_first(run_dir: Path) -> None:
    config = SimulationConfig(buyers=2, tickets=1, strategy="optimistic", max_retries=0, schedule=[1, 2, 1, 2])
    report = run_simulation(config, run_dir)
    outcomes = sorted(r.outcome for r in report.records)
    assert outcomes == ["gave_up", "success"] and report.result.retries == 0
    assert "No buyer's write was refused" not in report.result.explanation, report.result.explanation
    calm = run_simulation(config.model_copy(update={"schedule": [1, 1, 2]}), run_dir / "calm")
    assert "No buyer's write was refused" in calm.result.explanation, calm.result.explanation


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


MS = 1_000_000
EXPIRED = re.compile(
    r"The Redis lock expired while buyer (?P<holder>\d+) held it: the lock lives (?P<ttl>[\d,]+) ms, buyer (?P=holder) "
    r"wrote (?P<held>[\d,.]+) ms after getting it, and buyer (?P<intruder>\d+) got the lock (?P<after>[\d,.]+) ms "
    r"after buyer (?P=holder) had, before that write(?: \(in all, (?P<n>[\d,]+) buyers got the lock before an "
    r"earlier holder had written\))?\."
)
REFUSED = re.compile(
    r"PostgreSQL refused (?P<refusals>[\d,]+) transactions? of buyers? (?P<names>[\d, ]+?)(?: and (?P<others>\d+) "
    r"others?| and (?P<last>\d+))? with a serialization failure \(SQLSTATE 40001\), a concurrent transaction having "
    r"changed the count (?:it|they) read; (?:it|each) ran its transaction again from BEGIN, reading the count afresh"
    r"(?: \(buyer (?P<most>\d+) (?P<times>\d+) times, the most\))?\."
)
OVER = r"(?P<names>[\d, ]+?)(?: and (?P<others>\d+) others?| and (?P<and>\d+))?, who had read the same count\."
ANOMALY = {
    "postgres": r"(?:A lost update|Lost updates) under PostgreSQL's READ COMMITTED: each SELECT and each UPDATE ran as "
    r"a transaction of its own, so nothing locked the row from a buyer's read to its write, and buyer (?P<last>\d+)'s "
    r"UPDATE set count=(?P<wrote>[\d,]+) over the UPDATEs? of buyers? " + OVER,
    "sqlite": r"(?:A lost update|Lost updates) in SQLite: each SELECT and each UPDATE committed on its own "
    r"\(autocommit\), so SQLite's write lock was held for the UPDATE alone, never from a buyer's read to its write, "
    r"and buyer (?P<last>\d+)'s UPDATE set count=(?P<wrote>[\d,]+) over the UPDATEs? of buyers? " + OVER,
    "redis": r"(?:A lost update|Lost updates) in Redis: a buyer's GET and its SET are two commands, and the server ran "
    r"(?:another buyer's|other buyers') commands between them, so buyer (?P<last>\d+)'s SET put (?P<wrote>[\d,]+) "
    r"over the SETs? of buyers? " + OVER,
}


def held(buyer: int, asked_ms: float, got_ms: float, wrote_ms: float | None, read: int = 1) -> BuyerRecord:
    """A read-write buyer that asked for the lock, got it, read `read` and (unless `wrote_ms` is None) wrote."""
    asked, got = int(asked_ms * MS), int(got_ms * MS)
    if wrote_ms is None:
        return BuyerRecord(buyer, buyer, "sold_out", 0, 0, None, None, 0, asked, asked, got, got, None, got)
    wrote = int(wrote_ms * MS)
    return BuyerRecord(buyer, buyer, "success", read, read, read - 1, None, 0, asked, asked, got, got, wrote, wrote)


def test_a_redis_lock_that_expired_names_its_holder_and_the_buyer_who_got_in() -> None:
    """Buyer 1 gets the lock at 1 ms and writes at 401 ms; its key lives 50 ms, and buyer 2, who asked at 0 ms,
    gets it at 52 ms; buyer 3 gets it at 120 ms, once buyer 2's key has expired too. All three read before anyone
    writes, so all three sell the one seat."""
    records = [held(1, 0, 1, 401), held(2, 0, 52, 452), held(3, 0, 120, 520)]
    result = analyse(records, tickets_initial=1, tickets_remaining=0, duration_ns=520 * MS, store="redis",
                     lock="redis", lock_ttl_ms=50)  # fmt: skip
    assert result.explanation.startswith(
        "The Redis lock expired while buyer 1 held it: the lock lives 50 ms, buyer 1 wrote 400.0 ms after getting "
        "it, and buyer 2 got the lock 51.0 ms after buyer 1 had, before that write (in all, 2 buyers got the lock "
        "before an earlier holder had written). Buyers 1, 2 and 3 all read count=1 before buyer 1 wrote 0;"
    )
    assert result.oversold == 2


def test_a_redis_lock_is_not_said_to_have_expired_when_the_records_do_not_show_it() -> None:
    turns = [held(1, 0, 1, 101), held(2, 0, 102, None), held(3, 0, 103, None)]  # each got it after the write
    quiet = analyse(turns, tickets_initial=1, tickets_remaining=0, duration_ns=103 * MS, store="redis",
                    lock="redis", lock_ttl_ms=50)  # fmt: skip
    assert "expired" not in quiet.explanation and quiet.safe
    # Buyer 2 asked 200 ms before buyer 1 got the lock, longer than a TTL: its own SET may have come first and its
    # key expired before buyer 1's SET, so which key expired cannot be told, and nothing is said of it.
    unknown = [held(2, -200, 60, 300), held(1, 0, 1, 400)]
    said = analyse(unknown, tickets_initial=1, tickets_remaining=0, duration_ns=400 * MS, store="redis",
                   lock="redis", lock_ttl_ms=50)  # fmt: skip
    assert "expired" not in said.explanation and "Buyers 1 and 2 both read count=1" in said.explanation
    other_lock = analyse(unknown, tickets_initial=1, tickets_remaining=0, duration_ns=400 * MS, lock="process")
    assert "expired" not in other_lock.explanation  # only the Redis lock expires


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 300), st.integers(0, 300), st.one_of(st.none(), st.integers(1, 300))),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 200),
)
def test_the_expired_lock_sentence_appears_exactly_when_the_records_show_it(
    holds: list[tuple[int, int, int | None]], ttl_ms: int
) -> None:
    """Holders (asked at, waited, held until their write or read sold out) on a lock of `ttl_ms`, checked by brute
    force over every pair: Y got the lock after X and before X wrote, and Y asked less than a TTL before X got it."""
    records = [
        held(b, asked, asked + waited, None if hold is None else asked + waited + hold, read=1)
        for b, (asked, waited, hold) in enumerate(holds, start=1)
    ]
    result = analyse(records, tickets_initial=len(records), tickets_remaining=0, duration_ns=MS, store="redis",
                     lock="redis", lock_ttl_ms=ttl_ms)  # fmt: skip
    wrote = [x for x in records if x.t_write is not None]

    def inside(y: BuyerRecord, x: BuyerRecord) -> bool:
        return x.t_lock_acquired < y.t_lock_acquired < x.t_write  # type: ignore[operator]

    def shown(y: BuyerRecord, x: BuyerRecord) -> bool:
        return inside(y, x) and x.t_lock_acquired < y.t_lock_requested + ttl_ms * MS  # type: ignore[operator]

    intruders = [y for y in records if any(inside(y, x) for x in wrote)]
    witnessed = any(shown(y, x) for y in records for x in wrote)
    found = EXPIRED.search(result.explanation)
    assert (found is not None) == witnessed, result.explanation
    if found:
        by_buyer = {r.buyer: r for r in records}
        x, y = by_buyer[int(found["holder"])], by_buyer[int(found["intruder"])]
        assert shown(y, x) and int(found["ttl"]) == ttl_ms
        assert float(found["held"]) == round((x.t_write - x.t_lock_acquired) / MS, 1)  # type: ignore[operator]
        assert float(found["after"]) == round((y.t_lock_acquired - x.t_lock_acquired) / MS, 1)  # type: ignore[operator]
        assert int(found["n"] or 1) == len(intruders)


def serializable(buyer: int, retries: int, outcome: str = "success") -> BuyerRecord:
    read = 1 if outcome == "success" else 0
    wrote = 0 if outcome == "success" else None
    return BuyerRecord(buyer, buyer, outcome, 1, read, wrote, None, 0, 0, None, None, 10 + buyer,  # type: ignore[arg-type]
                       20 + buyer if wrote is not None else None, 30 + buyer, retries)  # fmt: skip


def test_serializable_says_how_many_transactions_postgres_refused_and_whose() -> None:
    records = [
        serializable(1, 0),
        *(serializable(b, 1, "sold_out") for b in range(2, 9)),
        serializable(9, 3, "sold_out"),
    ]
    result = analyse(records, tickets_initial=1, tickets_remaining=0, duration_ns=MS, store="postgres",
                     strategy="serializable")  # fmt: skip
    assert result.retries == 10
    found = REFUSED.search(result.explanation)
    assert found is not None, result.explanation
    assert found["refusals"] == "10" and found["names"] == "2, 3, 4, 5, 6" and found["others"] == "3"
    assert (found["most"], found["times"]) == ("9", "3")
    one = analyse([serializable(1, 0), serializable(2, 2, "sold_out")], tickets_initial=1, tickets_remaining=0,
                  duration_ns=MS, store="postgres", strategy="serializable")  # fmt: skip
    assert one.explanation.endswith(
        "PostgreSQL refused 2 transactions of buyer 2 with a serialization failure (SQLSTATE 40001), a concurrent "
        "transaction having changed the count it read; it ran its transaction again from BEGIN, reading the count "
        "afresh."
    )


def test_serializable_says_none_was_refused_only_when_nobody_reran_or_gave_up() -> None:
    calm = analyse([serializable(1, 0), serializable(2, 0, "sold_out")], tickets_initial=1, tickets_remaining=0,
                   duration_ns=MS, store="postgres", strategy="serializable")  # fmt: skip
    assert calm.explanation.endswith("PostgreSQL refused no transaction with a serialization failure (SQLSTATE 40001).")
    gave_up = serializable(2, 0, "gave_up")._replace(
        error="gave up after 0 retries: PostgreSQL refused the transaction: could not serialize access due to "
        "concurrent update"
    )
    refused_once = analyse([serializable(1, 0), gave_up], tickets_initial=1, tickets_remaining=0, duration_ns=MS,
                           store="postgres", strategy="serializable")  # fmt: skip
    assert "SQLSTATE" not in refused_once.explanation and "serialization failure" not in refused_once.explanation
    assert "1 of 2 buyers gave up after 0 retries: PostgreSQL refused the transaction" in refused_once.explanation


@settings(max_examples=200, deadline=None)
@given(histories(), st.sampled_from(["file", "memory", "sqlite", "postgres", "redis"]))
def test_a_lost_update_is_told_in_the_stores_words_exactly_when_there_is_one(
    history_and_tickets: tuple[History, int], store: str
) -> None:
    """The sentence follows the largest conflict: its last writer wrote after every buyer it names, all of whom
    read the count that the last writer read and wrote one less over."""
    history, tickets = history_and_tickets
    result = analyse(history.records, tickets_initial=tickets, tickets_remaining=history.remaining, duration_ns=1,
                     store=store)  # fmt: skip
    check_claims(result, history.records, tickets, true_lost=history.lost)
    by_buyer = {r.buyer: r for r in history.records}
    if result.conflicts:
        c = result.conflicts[0]
        writes = sorted(by_buyer[b].t_write for b in c.buyers)  # type: ignore[type-var]
        assert (c.last_writer is None) == (writes[-1] == writes[-2])  # two last at once: nobody wrote over them
    said = [s for s, pattern in ANOMALY.items() if re.search(pattern, result.explanation)]
    assert said == ([store] if result.conflicts and c.last_writer is not None and store in ANOMALY else [])
    if not said:
        return
    found = re.search(ANOMALY[store], result.explanation)
    assert found is not None
    last = by_buyer[int(found["last"])]
    names = [int(n) for n in found["names"].split(", ")] + ([int(found["and"])] if found["and"] else [])
    assert len(names) + int(found["others"] or 0) == c.size - 1  # every sale of the reading but the last writer's
    assert last.read == c.read and int(found["wrote"]) == c.read - 1 == last.wrote
    for b in names:
        r = by_buyer[b]
        assert b != last.buyer and r.read == last.read and r.t_write < last.t_write  # type: ignore[operator]
    first = by_buyer[c.first_writer]
    assert last.t_read < first.t_write  # type: ignore[operator]  # the last writer read before any of them wrote


@pytest.mark.parametrize(("store", "lock"), [("postgres", "PostgreSQL row lock"), ("sqlite", "SQLite write lock")])
def test_for_update_waits_for_the_stores_write_lock_count_as_lock_waits(store: str, lock: str) -> None:
    records = [held(1, 0, 1, 101), held(2, 0, 102, None), held(3, 0, 104, None)]
    result = analyse(records, tickets_initial=1, tickets_remaining=0, duration_ns=104 * MS, store=store,
                     strategy="for-update")  # fmt: skip
    assert (result.lock_wait_p50_ms, result.lock_wait_p95_ms, result.lock_wait_max_ms) == (102.0, 104.0, 104.0)
    assert sum(b.buyers for b in result.lock_wait_histogram) == 3
    assert result.explanation.startswith(f"With the {lock}, buyers took turns")
    assert f"Waiting for the {lock} took 102.0 ms at the median and 104.0 ms at most." in result.explanation

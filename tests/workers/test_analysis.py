from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workers import BuyerRecord
from workers.analysis import Result, analyse, max_in_critical

MS = 1_000_000


def sale(buyer: int, read: int, t_read_ms: int, t_write_ms: int, waited_ms: int = 0) -> BuyerRecord:
    t_read = t_read_ms * MS
    return BuyerRecord(
        buyer=buyer,
        pid=1000 + buyer,
        outcome="success",
        seen=read,
        read=read,
        wrote=read - 1,
        t_start=0,
        t_searched=t_read - waited_ms * MS,
        t_lock_requested=t_read - waited_ms * MS,
        t_lock_acquired=t_read,
        t_read=t_read,
        t_write=t_write_ms * MS,
        t_end=t_write_ms * MS,
    )


def sold_out(buyer: int, t_read_ms: int) -> BuyerRecord:
    t = t_read_ms * MS
    return BuyerRecord(buyer, 2000 + buyer, "sold_out", 0, 0, None, None, 0, t, t, t, t, None, t)


def test_analyse_names_the_buyers_who_shared_one_reading() -> None:
    records = [sale(3, 1, 100, 210), sale(7, 1, 101, 250), sale(9, 1, 102, 300)]
    result = analyse(records, tickets_initial=1, tickets_remaining=0, duration_ns=300 * MS)
    assert (result.tickets_handed_out, result.tickets_sold, result.oversold, result.lost_updates) == (3, 1, 2, 2)
    assert not result.safe
    assert (result.verdict, result.verdict_kind) == ("Oversold: 3 tickets handed out for 1 seat", "unsafe")
    assert result.max_in_critical == 3
    assert result.conflicts[0].buyers == [3, 7, 9]
    assert result.explanation.startswith(
        "Buyers 3, 7 and 9 all read count=1 before buyer 3 wrote 0; each wrote 0, "
        "so 3 tickets were handed out for 1 seat (2 oversold)."
    )


def test_analyse_counts_lost_updates_without_oversell() -> None:
    records = [sale(1, 5, 10, 20), sale(2, 5, 11, 21), sale(3, 4, 30, 40)]
    result = analyse(records, tickets_initial=5, tickets_remaining=3, duration_ns=40 * MS)
    assert (result.oversold, result.lost_updates, result.tickets_sold) == (0, 1, 2)
    assert result.explanation.startswith("Buyers 1 and 2 both read count=5 before buyer 1 wrote 4; each wrote 4, ")
    assert "2 sales took only 1 ticket off the count (1 lost update)." in result.explanation
    assert "3 remain: 0 oversold, 1 lost update." in result.explanation
    assert result.verdict == "Not safe: 3 tickets handed out but only 2 left the db (1 lost update)"
    assert result.verdict_kind == "unsafe"


def test_analyse_under_a_lock_shows_a_staircase() -> None:
    records = [sale(1, 2, 0, 10), sale(2, 1, 11, 20, waited_ms=11), sold_out(3, 21), sold_out(4, 22)]
    result = analyse(records, tickets_initial=2, tickets_remaining=0, duration_ns=22 * MS, lock="file")
    assert result.safe and result.max_in_critical == 1 and result.conflicts == []
    assert (result.buyers_succeeded, result.buyers_sold_out, result.buyers_errored) == (2, 2, 0)
    assert result.lock_wait_max_ms == 11.0
    assert result.explanation.startswith("With the file lock, buyers took turns")
    assert (result.verdict, result.verdict_kind) == ("Safe: no seat sold twice", "safe")
    assert result.sales_per_second == round(2 / 0.022, 1)


def test_analyse_without_a_lock_reports_no_lock_wait() -> None:
    records = [sale(1, 2, 0, 10, waited_ms=3), sale(2, 1, 11, 20, waited_ms=5)]
    locked = analyse(records, tickets_initial=2, tickets_remaining=0, duration_ns=20 * MS, lock="process")
    unlocked = analyse(records, tickets_initial=2, tickets_remaining=0, duration_ns=20 * MS)
    assert (locked.lock_wait_p50_ms, locked.lock_wait_max_ms) == (3.0, 5.0)  # the waits were 3 and 5 ms
    assert (unlocked.lock_wait_p50_ms, unlocked.lock_wait_p95_ms, unlocked.lock_wait_max_ms) == (0.0, 0.0, 0.0)
    assert "Waiting for" not in unlocked.explanation


def test_analyse_reports_errored_buyers() -> None:
    dead = BuyerRecord(5, 99, "error", error="buyer process 99 was killed by signal 9 before reporting")
    result = analyse([sale(1, 1, 0, 5), dead], tickets_initial=1, tickets_remaining=0, duration_ns=MS)
    assert result.buyers_errored == 1
    assert "1 buyer failed with an error" in result.explanation
    assert (result.verdict, result.verdict_kind) == (
        "No seat sold twice, but 1 of 2 buyers failed with an error",
        "incomplete",
    )


@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 50)), min_size=1, max_size=40))
def test_max_in_critical_matches_brute_force(windows: list[tuple[int, int]]) -> None:
    records = [sale(i, 1, start, start + length) for i, (start, length) in enumerate(windows)]
    instants = {t * MS for start, length in windows for t in (start, start + length)}
    brute = max(sum(1 for s, n in windows if s * MS <= t <= (s + n) * MS) for t in instants)
    assert max_in_critical(records) == brute


def gave_up(buyer: int, t_requested_ms: int, waited_ms: int, lock: str = "process lock") -> BuyerRecord:
    t = t_requested_ms * MS
    return BuyerRecord(
        buyer,
        3000 + buyer,
        "gave_up",
        seen=1,
        error=f"gave up after waiting {waited_ms / 1000:g} s for the {lock}",
        t_start=0,
        t_searched=t,
        t_lock_requested=t,
        t_end=t + waited_ms * MS,
    )


def test_buyers_who_gave_up_count_in_the_waits_and_the_verdict() -> None:
    records = [sale(1, 1, 0, 200)] + [gave_up(b, 0, 50) for b in range(2, 11)]
    result = analyse(records, tickets_initial=1, tickets_remaining=0, duration_ns=200 * MS, lock="process")
    assert (result.buyers_succeeded, result.buyers_gave_up, result.buyers_errored) == (1, 9, 0)
    assert result.safe
    assert (result.lock_wait_p50_ms, result.lock_wait_p95_ms, result.lock_wait_max_ms) == (50.0, 50.0, 50.0)
    assert result.verdict == "No seat sold twice, but 9 of 10 buyers gave up waiting for the process lock"
    assert result.verdict_kind == "incomplete"
    assert "9 of 10 buyers gave up waiting for the process lock, each after 50.0 ms or more." in result.explanation
    assert "took 50.0 ms at the median and 50.0 ms at most, counting the buyers who gave up." in result.explanation


def test_verdict_names_both_kinds_of_unanswered_buyers() -> None:
    dead = BuyerRecord(4, 99, "error", error="buyer process 99 was killed by signal 9 before reporting")
    records = [sale(1, 1, 0, 200), gave_up(2, 0, 50), gave_up(3, 0, 60), dead]
    result = analyse(records, tickets_initial=1, tickets_remaining=0, duration_ns=200 * MS, lock="file")
    assert result.verdict == (
        "No seat sold twice, but 2 of 4 buyers gave up waiting for the file lock and 1 failed with an error"
    )
    assert "2 of 4 buyers gave up waiting for the file lock, each after 50.0 ms or more." in result.explanation


def test_explanation_speaks_in_singulars_and_plurals() -> None:
    one = analyse([sale(1, 2, 0, 5)], tickets_initial=2, tickets_remaining=1, duration_ns=5 * MS)
    assert "1 buyer was told they got a ticket, 1 ticket left the db and 1 remains; nothing oversold." in (
        one.explanation
    )
    six = [sale(b, 1, b, 100 + b) for b in range(1, 7)]
    crowd = analyse(six, tickets_initial=1, tickets_remaining=0, duration_ns=110 * MS)
    assert crowd.explanation.startswith("Buyers 1, 2, 3, 4, 5 and 1 other all read count=1 before buyer 1 wrote 0;")
    assert crowd.verdict == "Oversold: 6 tickets handed out for 1 seat"


def test_a_result_stored_by_an_earlier_version_still_loads() -> None:
    records = [sale(1, 1, 0, 10), sale(2, 1, 1, 11)]
    stored = analyse(records, tickets_initial=1, tickets_remaining=0, duration_ns=11 * MS).model_dump()
    for field in ("buyers_gave_up", "verdict", "verdict_kind", "lock_wait_histogram"):
        del stored[field]
    loaded = Result.model_validate(stored)
    assert (loaded.verdict, loaded.verdict_kind) == ("Oversold: 2 tickets handed out for 1 seat", "unsafe")
    assert loaded.buyers_gave_up == 0


def test_buyers_who_gave_up_retrying_are_told_in_their_own_words() -> None:
    reason = "gave up after 0 retries: another buyer wrote first every time"
    quit_retrying = [
        BuyerRecord(b, 4000 + b, "gave_up", 2, 2, None, reason, 0, 1, None, None, 2, None, 3, 0) for b in (2, 3)
    ]
    records = [sale(1, 2, 0, 10), *quit_retrying]
    result = analyse(records, tickets_initial=2, tickets_remaining=1, duration_ns=10 * MS)
    assert result.buyers_gave_up == 2 and result.lock_wait_histogram == [] and result.lock_wait_max_ms == 0
    assert result.verdict == "No seat sold twice, but 2 of 3 buyers gave up"
    assert f"2 of 3 buyers {reason}." in result.explanation

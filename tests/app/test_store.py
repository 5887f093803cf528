"""The SQLite store: round trips, guarded status changes, buyer files that appear whole, paging, deletion."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from app.buyer_files import SAVE_ASIDE_FROM
from app.lifecycle import InvalidTransition, Status
from app.store import Store
from app.store_errors import SimulationBusy, SimulationNotFound, StoreError
from workers import BuyerRecord, Result, SimulationConfig
from workers.analysis import analyse
from workers.speech import fact


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data")
    s.init()
    return s


def records(n: int, tickets: int = 1) -> list[BuyerRecord]:
    """n buyers who all read `tickets` and each wrote one less: every sale after the first was lost."""
    t = time.monotonic_ns()
    return [
        BuyerRecord(
            b, 1000 + b, "success", tickets, tickets, tickets - 1, None, t, t + 1, t + 2, t + 3, t + 4, t + 9, t + 10
        )
        for b in range(1, n + 1)
    ]


def result_of(rows: list[BuyerRecord], tickets: int = 1) -> Result:
    return analyse(rows, tickets_initial=tickets, tickets_remaining=tickets - 1, duration_ns=1_000_000)


def status(store: Store, sim_id: str) -> Status:
    row = store.get(sim_id)
    assert row is not None
    return row.status


def finished(store: Store, sim_id: str) -> int:
    row = store.get(sim_id)
    assert row is not None
    return row.finished


def completed(store: Store, n: int = 5) -> str:
    sim_id = store.create(SimulationConfig(buyers=n).resolved()).id
    store.transition(sim_id, Status.RUNNING)
    store.folders.path(sim_id).mkdir()
    rows = records(n)
    store.buyer_files.save(sim_id, rows)
    store.transition(sim_id, Status.COMPLETED, result=result_of(rows))
    return sim_id


def test_store_create_round_trips_the_resolved_config(store: Store) -> None:
    config = SimulationConfig(buyers=7, tickets=3, lock="file", think_ms=[1, 2]).resolved()

    row = store.create(config)

    again = store.get(row.id)
    assert again == row
    assert again.config == config and again.config.seed is not None
    assert (again.status, again.finished, again.buyers) == (Status.QUEUED, 0, 7)
    assert again.started_at is None and again.result is None
    assert store.path.exists() and store.folders.root.is_dir()


def test_store_completion_saves_result_buyers_and_times(store: Store) -> None:
    sim_id = completed(store, 5)

    row = store.get(sim_id)
    assert row is not None and row.status == Status.COMPLETED
    assert row.result is not None and row.result.oversold == 4
    assert row.finished == 5
    assert row.started_at is not None and row.finished_at is not None
    assert row.created_at <= row.started_at <= row.finished_at
    page, count = store.buyer_files.page(sim_id, 0, 100)
    assert count == 5
    assert [(r.buyer, r.outcome, r.read, r.wrote) for r in page] == [(b, "success", 1, 0) for b in range(1, 6)]


def test_store_keeps_each_buyers_host_and_reads_a_file_saved_before_hosts(store: Store) -> None:
    sim_id = completed(store, 3)
    with_hosts = [r._replace(host=f"10.0.0.{r.buyer % 2 + 1}") for r in records(3)]
    files = store.buyer_files
    files.save(sim_id, with_hosts)
    assert [r.host for r in files.page(sim_id, 0, 10)[0]] == ["10.0.0.2", "10.0.0.1", "10.0.0.2"]

    path = files.path(sim_id)
    path.unlink()
    old = sqlite3.connect(path)  # a buyer file as saved before records named their host (or kept error facts)
    columns = ", ".join(f for f in BuyerRecord._fields if f not in ("host", "error_fact"))
    old.execute(f"CREATE TABLE buyers ({columns})")
    old.executemany(f"INSERT INTO buyers VALUES ({', '.join('?' * 15)})", [tuple(r)[:15] for r in records(3)])
    old.commit()
    old.close()
    page, count = files.page(sim_id, 0, 10)
    assert count == 3 and [r.host for r in page] == [None, None, None]
    assert [r.error_fact for r in page] == [None, None, None]
    assert [r.buyer for chunk in files.chunks(sim_id) for r in chunk] == [1, 2, 3]


def test_store_keeps_a_buyers_error_as_words_and_as_its_fact(store: Store) -> None:
    sim_id = completed(store, 3)
    reason = fact("lock.gave_up", seconds="0.05", lock=fact("lock.waited.file"))
    gave_up = records(3)[2]._replace(outcome="gave_up", error="gave up after waiting 0.05 s for the file lock")
    words_alone = records(3)[1]._replace(outcome="error", error="OSError: disk gone")
    store.buyer_files.save(sim_id, [records(3)[0], words_alone, gave_up._replace(error_fact=reason)])

    page, _ = store.buyer_files.page(sim_id, 0, 10)
    assert [r.error_fact for r in page] == [None, None, reason]
    assert [r.error_in("zh") for r in page] == [None, "OSError: disk gone", "等文件锁等了 0.05 秒后放弃了"]
    assert [r.error_in("en") for r in page] == [None, "OSError: disk gone", gave_up.error]
    assert [r for chunk in store.buyer_files.chunks(sim_id) for r in chunk] == page


def test_store_buyer_file_appears_whole_or_not_at_all(store: Store) -> None:
    sim_id = store.create(SimulationConfig(buyers=3).resolved()).id
    store.transition(sim_id, Status.RUNNING)
    store.folders.path(sim_id).mkdir()

    def broken() -> Iterator[BuyerRecord]:
        yield from records(2)
        raise OSError("disk gone")

    with pytest.raises(OSError):
        store.buyer_files.save(sim_id, broken())

    assert store.buyer_files.page(sim_id, 0, 10) == ([], 0)
    assert list(store.buyer_files.chunks(sim_id)) == []
    assert sorted(p.name for p in store.folders.path(sim_id).iterdir()) == []


def test_store_big_buyer_file_does_not_hold_the_shared_database(store: Store) -> None:
    sim_id = store.create(SimulationConfig(buyers=20_000, executor="pool").resolved()).id
    store.transition(sim_id, Status.RUNNING)
    store.folders.path(sim_id).mkdir()
    meanwhile: list[str] = []

    def create_meanwhile() -> Iterator[BuyerRecord]:
        for record in records(20_000):
            if record.buyer == 10_000:  # the buyer file is half written
                # another process's writer would get the shared database at once: nobody holds its write lock
                with sqlite3.connect(store.data_dir / "ticketrush.sqlite3", timeout=0, isolation_level=None) as other:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("ROLLBACK")
                other.close()
                meanwhile.append(store.create(SimulationConfig().resolved()).id)
            yield record

    store.buyer_files.save(sim_id, create_meanwhile())

    assert [store.get(i) is not None for i in meanwhile] == [True]
    assert store.buyer_files.page(sim_id, 19_999, 10)[1] == 20_000


def running(store: Store, buyers: int) -> str:
    sim_id = store.create(SimulationConfig(buyers=buyers, executor="pool").resolved()).id
    store.transition(sim_id, Status.RUNNING)
    store.folders.path(sim_id).mkdir()
    return sim_id


def test_store_saves_a_big_runs_buyers_from_a_child_while_the_caller_goes_on(store: Store) -> None:
    sim_id, rows = running(store, SAVE_ASIDE_FROM), records(SAVE_ASIDE_FROM)

    saving = store.buyer_files.save_aside(sim_id, rows)
    child = saving.pid
    assert child in [c.pid for c in psutil.Process().children()]  # written by a child of ours
    saving.wait()

    assert [r for chunk in store.buyer_files.chunks(sim_id) for r in chunk] == rows
    assert child not in [c.pid for c in psutil.Process().children()]  # reaped
    assert sorted(p.name for p in store.folders.path(sim_id).iterdir()) == ["buyers.sqlite3"]


def test_store_saves_a_small_runs_buyers_at_once_without_a_child(store: Store) -> None:
    sim_id, rows = running(store, 5), records(5)

    saving = store.buyer_files.save_aside(sim_id, rows)

    assert saving.pid is None and store.buyer_files.page(sim_id, 0, 10) == (rows, 5)
    saving.wait()


def test_store_saving_aside_that_fails_says_why_and_leaves_no_half_file(store: Store) -> None:
    sim_id = running(store, SAVE_ASIDE_FROM)
    (store.buyer_files.path(sim_id) / "in the way").mkdir(parents=True)  # a folder where the file goes

    saving = store.buyer_files.save_aside(sim_id, records(SAVE_ASIDE_FROM))

    with pytest.raises(StoreError, match=r"Is a directory|Directory not empty"):
        saving.wait()
    with pytest.raises(StoreError):  # asked again, the same answer: the child is reaped once
        saving.wait()
    assert sorted(p.name for p in store.folders.path(sim_id).iterdir()) == ["buyers.sqlite3"]  # the folder
    assert store.buyer_files.page(sim_id, 0, 10) == ([], 0)


def test_store_saving_aside_whose_child_is_killed_fails_at_once_and_leaves_no_half_file(store: Store) -> None:
    sim_id = running(store, SAVE_ASIDE_FROM)

    saving = store.buyer_files.save_aside(sim_id, records(20 * SAVE_ASIDE_FROM))  # long enough to be killed
    assert saving.pid is not None
    os.kill(saving.pid, signal.SIGKILL)

    started = time.monotonic()
    with pytest.raises(StoreError, match="killed by signal 9"):
        saving.wait(timeout=60)
    assert time.monotonic() - started < 5
    assert list(store.folders.path(sim_id).iterdir()) == []


def test_store_transition_refuses_an_illegal_move_and_keeps_the_status(store: Store) -> None:
    sim_id = completed(store)

    with pytest.raises(InvalidTransition):
        store.transition(sim_id, Status.CANCELLED)
    with pytest.raises(InvalidTransition):
        store.transition(sim_id, Status.RUNNING)
    with pytest.raises(SimulationNotFound):
        store.transition("0" * 32, Status.RUNNING)
    assert status(store, sim_id) == Status.COMPLETED


def test_store_progress_is_only_written_while_running(store: Store) -> None:
    sim_id = store.create(SimulationConfig(buyers=9).resolved()).id
    store.set_progress(sim_id, 4)
    assert finished(store, sim_id) == 0

    store.transition(sim_id, Status.RUNNING)
    store.set_progress(sim_id, 4)

    assert finished(store, sim_id) == 4


def test_store_page_is_newest_first_with_the_total(store: Store) -> None:
    ids = [store.create(SimulationConfig().resolved()).id for _ in range(5)]

    first, count = store.page(0, 2)
    rest, _ = store.page(2, 10)

    assert count == 5
    assert [r.id for r in first + rest] == ids[::-1]


def test_store_iter_buyers_crosses_chunk_boundaries(store: Store) -> None:
    sim_id = completed(store, 10)

    chunks = list(store.buyer_files.chunks(sim_id, chunk=3))

    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [r.buyer for c in chunks for r in c] == list(range(1, 11))


def test_store_first_start_is_the_earliest_buyers_start_whoever_it_was_and_none_without_one(store: Store) -> None:
    sim_id = store.create(SimulationConfig(buyers=4).resolved()).id
    store.folders.path(sim_id).mkdir()
    rows = records(4)
    earliest = rows[0].t_start - 5
    unstarted = rows[1]._replace(t_start=None)
    store.buyer_files.save(sim_id, [rows[0], unstarted, rows[2]._replace(t_start=earliest), rows[3]])
    never_saved = store.create(SimulationConfig(buyers=1).resolved()).id

    assert store.buyer_files.first_start(sim_id) == earliest
    assert store.buyer_files.first_start(never_saved) is None


def test_store_delete_refuses_unfinished_then_removes_rows_and_folder(store: Store) -> None:
    sim_id = store.create(SimulationConfig().resolved()).id
    with pytest.raises(SimulationBusy):
        store.delete(sim_id)
    store.transition(sim_id, Status.RUNNING)
    store.folders.path(sim_id).mkdir()
    (store.folders.path(sim_id) / "db.json").write_text('{"count": 0}')
    rows = records(3)
    store.buyer_files.save(sim_id, rows)
    store.transition(sim_id, Status.COMPLETED, result=result_of(rows))

    store.delete(sim_id)

    assert store.get(sim_id) is None
    assert store.buyer_files.page(sim_id, 0, 10) == ([], 0)
    assert not store.folders.path(sim_id).exists()
    with pytest.raises(SimulationNotFound):
        store.delete(sim_id)


def test_store_totals_count_statuses_and_completed_results(store: Store) -> None:
    completed(store, 4)
    completed(store, 6)
    store.create(SimulationConfig().resolved())

    totals = store.totals()

    assert totals.by_status[Status.COMPLETED] == 2
    assert totals.by_status[Status.QUEUED] == 1
    assert totals.by_status[Status.FAILED] == 0
    assert (totals.buyers, totals.tickets_sold, totals.tickets_oversold) == (10, 2, 3 + 5)


def test_store_totals_keep_what_deleted_runs_added_and_a_store_made_before_them_starts_from_its_rows(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "data")
    store.init()
    kept, gone = completed(store, 4), completed(store, 6)
    with store._transaction("IMMEDIATE") as db:  # as a store made before the totals were kept
        db.execute("DROP TABLE totals")
    store.close()

    reopened = Store(tmp_path / "data")
    reopened.init()
    before = reopened.totals()
    reopened.delete(gone)
    after = reopened.totals()
    reopened.init()  # a restart counts nothing twice

    assert (before.buyers, before.tickets_sold, before.tickets_oversold) == (10, 2, 3 + 5)
    assert (after.buyers, after.tickets_sold, after.tickets_oversold) == (10, 2, 3 + 5)
    assert after.by_status[Status.COMPLETED] == 1 == before.by_status[Status.COMPLETED] - 1
    assert reopened.totals() == after
    assert reopened.get(kept) is not None


def test_store_run_dir_refuses_an_id_that_is_not_ours(store: Store) -> None:
    for odd in ["..", "../x", "ABC", "0" * 31]:
        with pytest.raises(SimulationNotFound):
            store.folders.path(odd)


def test_store_keeps_a_failed_runs_reason_as_a_fact_and_an_older_rows_words_as_they_are(tmp_path: Path) -> None:
    """A reason stored as a fact is said in each language; a store made before facts were kept gets the column,
    and its rows keep showing their English words."""
    store = Store(tmp_path / "data")
    store.init()
    old = store.create(SimulationConfig(buyers=1).resolved()).id
    store.transition(old, Status.FAILED, error="the run went past its time limit of 9 s")
    with store._transaction("IMMEDIATE") as db:  # as a store made before: no error_fact column
        db.execute("ALTER TABLE simulations DROP COLUMN error_fact")
    store.close()

    reopened = Store(tmp_path / "data")
    reopened.init()
    new = reopened.create(SimulationConfig(buyers=1).resolved()).id
    reopened.transition(new, Status.FAILED, error=fact("run.time_limit", seconds="1.5"))
    reopened.init()  # a restart adds nothing twice

    kept, said = reopened.get(old), reopened.get(new)
    assert kept is not None and said is not None
    assert (kept.error_fact, kept.error_in("zh")) == (None, "the run went past its time limit of 9 s")
    assert said.error == said.error_in("en") == "the run went past its time limit of 1.5 s"
    assert said.error_in("zh") == "这次运行超过了 1.5 秒的时限"

"""One buyer's visit, timed step by step: each timestamp measures the step it names."""

from __future__ import annotations

import time
from pathlib import Path

from workers.buyer import Plan, buy
from workers.db import TicketDb
from workers.locks import NoLock

MS = 1_000_000
STAGE_MS = 60
LOCK_WAIT_MS = 30


class SlowStagingDb(TicketDb):
    """A db on a slow disk: creating the file a sale will fill takes a while; notes when staging ended."""

    staged_at = 0

    def stage(self) -> None:
        time.sleep(STAGE_MS / 1000)
        super().stage()
        self.staged_at = time.monotonic_ns()


class ContendedLock(NoLock):
    """A lock someone else holds for a while: notes when the wait for it began and ended."""

    asked_at = got_at = 0

    def acquire(self, timeout: float) -> bool:
        self.asked_at = time.monotonic_ns()
        time.sleep(LOCK_WAIT_MS / 1000)
        self.got_at = time.monotonic_ns()
        return True


def plan(db_path: Path) -> Plan:
    return Plan(db_path, (0.0, 0.0), (0.0, 0.0), seed=0, lock_timeout_s=5.0, start_timeout_s=5.0, parent_pid=None)


def test_lock_wait_is_the_wait_for_the_lock_not_the_file_made_before_it(tmp_path: Path) -> None:
    db = SlowStagingDb(tmp_path / "db.json")
    db.create(1)
    lock = ContendedLock()

    record = buy(1, plan(db.path), db, lock)
    db.close()

    assert record.outcome == "success" and (record.read, record.wrote) == (1, 0)
    assert record.t_searched is not None and record.t_lock_requested is not None
    assert record.t_lock_acquired is not None and record.t_read is not None and record.t_write is not None
    # staging happens after the search and is over before the lock is asked for
    assert record.t_searched <= db.staged_at - STAGE_MS * MS and db.staged_at <= record.t_lock_requested
    # the lock wait brackets the wait for the lock, and nothing else
    assert record.t_lock_requested <= lock.asked_at and lock.got_at <= record.t_lock_acquired
    assert record.t_lock_acquired - record.t_lock_requested >= LOCK_WAIT_MS * MS
    assert record.t_start <= record.t_searched
    assert record.t_lock_acquired <= record.t_read <= record.t_write <= record.t_end

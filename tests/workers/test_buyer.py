"""One buyer's visit, timed step by step: each timestamp measures the step it names."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from workers.locks import NoLock
from workers.stores.file import FileStore
from workers.strategies import Plan
from workers.strategies.read_write import ReadWrite

MS = 1_000_000
STAGE_MS = 60
LOCK_WAIT_MS = 30


class SlowStagingStore(FileStore):
    """A db on a slow disk: creating the file a sale will fill takes a while; notes when staging ended."""

    staged_at = 0

    def before_sale(self) -> None:
        time.sleep(STAGE_MS / 1000)
        super().before_sale()
        self.staged_at = time.monotonic_ns()


class ContendedLock(NoLock):
    """A lock someone else holds for a while: notes when the wait for it began and ended."""

    asked_at = got_at = 0

    def acquire(self, timeout: float) -> bool:
        self.asked_at = time.monotonic_ns()
        time.sleep(LOCK_WAIT_MS / 1000)
        self.got_at = time.monotonic_ns()
        return True


def test_lock_wait_is_the_wait_for_the_lock_not_the_file_made_before_it(tmp_path: Path) -> None:
    store = SlowStagingStore(tmp_path)
    store.create(1)
    strategy = ReadWrite(Plan(lock_timeout_s=5.0), store, multiprocessing.get_context("fork"), [range(1, 2)])
    strategy.lock = lock = ContendedLock()

    record = strategy.buy(1)
    store.close()

    assert record.outcome == "success" and (record.read, record.wrote) == (1, 0)
    assert record.t_searched is not None and record.t_lock_requested is not None
    assert record.t_lock_acquired is not None and record.t_read is not None and record.t_write is not None
    # staging happens after the search and is over before the lock is asked for
    assert record.t_searched <= store.staged_at - STAGE_MS * MS and store.staged_at <= record.t_lock_requested
    # the lock wait brackets the wait for the lock, and nothing else
    assert record.t_lock_requested <= lock.asked_at and lock.got_at <= record.t_lock_acquired
    assert record.t_lock_acquired - record.t_lock_requested >= LOCK_WAIT_MS * MS
    assert record.t_start <= record.t_searched
    assert record.t_lock_acquired <= record.t_read <= record.t_write <= record.t_end

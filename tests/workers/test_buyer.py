"""One buyer's visit, timed step by step: each timestamp measures the step it names."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from workers.stores.file import FileStore
from workers.strategies import Plan
from workers.strategies.read_write import ReadWrite

MS = 1_000_000
SLOW_STAGE_MS = 60


class SlowStagingStore(FileStore):
    """A db on a slow disk: creating the file a sale will fill takes a while."""

    def before_sale(self) -> None:
        time.sleep(SLOW_STAGE_MS / 1000)
        super().before_sale()


def test_lock_wait_is_the_wait_for_the_lock_not_the_file_made_before_it(tmp_path: Path) -> None:
    store = SlowStagingStore(tmp_path)
    store.create(1)
    strategy = ReadWrite(Plan(lock_timeout_s=5.0), store, multiprocessing.get_context("fork"), [range(1, 2)])

    record = strategy.buy(1)
    store.close()

    assert record.outcome == "success" and (record.read, record.wrote) == (1, 0)
    assert record.t_searched is not None and record.t_lock_requested is not None
    assert record.t_lock_acquired is not None
    assert record.t_lock_requested - record.t_searched >= SLOW_STAGE_MS * MS  # staging, before the request
    assert record.t_lock_acquired - record.t_lock_requested < 5 * MS  # no lock: nothing to wait for
    assert record.t_start <= record.t_searched <= record.t_lock_requested <= record.t_lock_acquired
    assert record.t_lock_acquired <= record.t_read <= record.t_write <= record.t_end

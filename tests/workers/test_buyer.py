"""One buyer's visit, timed step by step: each timestamp measures the step it names."""

from __future__ import annotations

import time
from pathlib import Path

from workers.buyer import Plan, buy
from workers.db import TicketDb
from workers.locks import NoLock

MS = 1_000_000
SLOW_STAGE_MS = 60


class SlowStagingDb(TicketDb):
    """A db on a slow disk: creating the file a sale will fill takes a while."""

    def stage(self) -> None:
        time.sleep(SLOW_STAGE_MS / 1000)
        super().stage()


def plan(db_path: Path) -> Plan:
    return Plan(db_path, (0.0, 0.0), (0.0, 0.0), seed=0, lock_timeout_s=5.0, start_timeout_s=5.0, parent_pid=None)


def test_lock_wait_is_the_wait_for_the_lock_not_the_file_made_before_it(tmp_path: Path) -> None:
    db = SlowStagingDb(tmp_path / "db.json")
    db.create(1)

    record = buy(1, plan(db.path), db, NoLock())
    db.close()

    assert record.outcome == "success" and (record.read, record.wrote) == (1, 0)
    assert record.t_searched is not None and record.t_lock_requested is not None
    assert record.t_lock_acquired is not None
    assert record.t_lock_requested - record.t_searched >= SLOW_STAGE_MS * MS  # staging, before the request
    assert record.t_lock_acquired - record.t_lock_requested < 5 * MS  # no lock: nothing to wait for
    assert record.t_start <= record.t_searched <= record.t_lock_requested <= record.t_lock_acquired
    assert record.t_lock_acquired <= record.t_read <= record.t_write <= record.t_end

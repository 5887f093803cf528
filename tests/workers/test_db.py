from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from workers.db import TicketDb
from workers.errors import DbError


def test_db_round_trip_is_the_lesson_format(tmp_path: Path) -> None:
    db = TicketDb(tmp_path / "run" / "db.json")
    db.create(7)
    assert json.loads(db.path.read_text()) == {"count": 7}
    for count in (6, 0, 10**12, -1):
        db.write(count)
        assert db.path.read_text() == json.dumps({"count": count})
        assert db.read() == count


@pytest.mark.parametrize("content", ["", '{"count": ', "[1]", '{"count": "1"}', '{"count": true}', "{}"])
def test_db_read_rejects_a_damaged_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "db.json"
    path.write_text(content)
    with pytest.raises(DbError, match=r"db\.json"):
        TicketDb(path).read()


def test_db_read_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(DbError, match="does not exist"):
        TicketDb(tmp_path / "nope.json").read()


def test_db_write_failure_is_a_db_error_and_leaves_the_db_intact(tmp_path: Path) -> None:
    db = TicketDb(tmp_path / "db.json")
    db.create(3)
    (tmp_path / f"db.json.{os.getpid()}.tmp").mkdir()  # the writer's temporary file cannot be created
    with pytest.raises(DbError, match="could not write"):
        db.write(2)
    assert db.read() == 3


def _write_forever(path: Path) -> None:
    db = TicketDb(path)
    count = 10**6
    while True:
        db.write(count)
        count -= 1


def test_db_is_never_torn_when_writers_are_killed_mid_write(tmp_path: Path) -> None:
    db = TicketDb(tmp_path / "db.json")
    db.create(10**6)
    context = multiprocessing.get_context("fork")
    reads = 0
    for _ in range(8):
        writer = context.Process(target=_write_forever, args=(db.path,), daemon=True)
        writer.start()
        stop = time.monotonic() + 0.1
        while time.monotonic() < stop:
            db.read()  # raises DbError on an empty or half-written file
            reads += 1
        os.kill(writer.pid or 0, signal.SIGKILL)
        writer.join(timeout=5)
        assert writer.exitcode == -signal.SIGKILL
        db.read()
    assert reads > 100
    db.remove_leftovers()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.json"]

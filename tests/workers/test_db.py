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


def test_a_read_sees_every_change_another_handle_or_program_makes_to_the_db(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    reader, writer = TicketDb(path), TicketDb(path)
    writer.create(5)
    assert reader.read() == 5
    writer.write(4)  # another buyer's sale: a fresh file swapped in
    writer.drop_replaced()
    assert reader.read() == 4
    path.write_text('{"count": 12}')  # another program rewrites it in place, longer
    assert reader.read() == 12
    with path.open("r+") as f:  # in place again, as long as before, a later modification time
        f.write('{"count": 13}')
    later = path.stat().st_mtime_ns + 10_000_000
    os.utime(path, ns=(later, later))
    assert reader.read() == 13
    path.write_text('{"count": "x"}')
    with pytest.raises(DbError, match="is not of the form"):
        reader.read()
    path.unlink()
    with pytest.raises(DbError, match="does not exist"):
        reader.read()
    reader.close()


def test_a_read_that_finds_the_db_unchanged_reads_no_file(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    db = TicketDb(path)
    db.create(5)
    assert db.read() == 5
    opened = _descriptors()
    for _ in range(100):
        assert db.read() == 5
    assert _descriptors() == opened  # the same file kept open, none opened again
    db.close()
    assert len(_descriptors()) == len(opened) - 1


def _descriptors() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


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


def test_compare_and_set_lets_exactly_one_of_the_writers_of_a_version_through(tmp_path: Path) -> None:
    first, second = TicketDb(tmp_path / "db.json"), TicketDb(tmp_path / "db.json")
    first.create(5)
    assert first.read_versioned() == second.read_versioned() == (5, 0)
    assert first.compare_and_set(0, 4)
    assert not second.compare_and_set(0, 4)  # it read version 0 too: refused, so it reads again
    assert second.read_versioned() == (4, 1)
    assert second.compare_and_set(1, 3)
    first.drop_replaced()
    second.drop_replaced()
    assert json.loads(first.path.read_text()) == {"count": 3, "version": 2}  # the lesson's code reads its count


def test_a_writer_killed_between_claiming_a_version_and_swapping_it_in_loses_nothing(tmp_path: Path) -> None:
    db = TicketDb(tmp_path / "db.json")
    db.create(5)
    os.link(_filled(tmp_path, b'{"count": 4, "version": 1}'), tmp_path / "db.json.v1")  # claimed, never swapped in
    assert json.loads(db.path.read_text()) == {"count": 5}  # the db itself is whole, one version behind
    assert db.read_versioned() == (4, 1)  # every reader sees the claimed sale
    assert not db.compare_and_set(0, 4)  # and nobody can sell that ticket again
    assert db.remove_leftovers() == 2  # the claimed version and the dead writer's file
    assert json.loads(db.path.read_text()) == {"count": 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.json"]


def _filled(folder: Path, data: bytes) -> Path:
    path = folder / "db.json.99999.tmp"  # what a writer with pid 99999 leaves when it dies after filling its file
    path.write_bytes(data)
    return path

"""A finished run's buyer records: a SQLite file of their own in the run's folder, data_dir/runs/<id>/buyers.sqlite3.

Up to a million rows, so they stay out of the shared database: written under a temporary name and renamed into
place, the file is there whole or not at all, and writing or deleting it never holds the shared database's write
lock. Readers open it read-only, a connection per page or chunk.

A big run's records are written by a child forked for it (`save_aside`), so that the run process analyses them
meanwhile, on another CPU: writing a million rows takes seconds, and so does their analysis.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from app.run_folders import RunFolders
from app.store_errors import StoreError
from workers import BuyerRecord, speech
from workers.errors import exit_cause
from workers.hygiene import die_with_parent

BUYERS_DB_NAME = "buyers.sqlite3"
BUSY_TIMEOUT_S = 30.0
SAVE_ASIDE_FROM = 10_000  # fewer records are written in less time than forking a child for them costs
SAVE_TIMEOUT_S = 300.0  # a million rows take seconds

BUYERS_SCHEMA = """
CREATE TABLE buyers (
    buyer            INTEGER PRIMARY KEY,
    pid              INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    seen             INTEGER,
    read             INTEGER,
    wrote            INTEGER,
    error            TEXT,
    t_start          INTEGER,
    t_searched       INTEGER,
    t_lock_requested INTEGER,
    t_lock_acquired  INTEGER,
    t_read           INTEGER,
    t_write          INTEGER,
    t_end            INTEGER,
    retries          INTEGER,
    host             TEXT,
    error_fact       TEXT
)
"""

# sqlite3 binds a str or an int directly, but first looks for an adapter for any other value: for None, a failed
# lookup in its registry and two failed attribute lookups. A buyer row holds about six None values, so a million
# rows spent seconds on it. With an adapter registered for None (one that returns None, which binds NULL as
# before), the lookup finds it at once: a million-row file is written about 40% faster. The adapter is a dict's
# `get`, a call that costs less than a Python function's.
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))

_BUYER_COLUMNS = ", ".join(BuyerRecord._fields)
_INSERT_BUYER = f"INSERT INTO buyers ({_BUYER_COLUMNS}) VALUES ({', '.join('?' * len(BuyerRecord._fields))})"


def _buyer_columns(db: sqlite3.Connection) -> str:
    """The columns of a BuyerRecord, as a buyer file of any version gives them: NULL for one it was saved without
    (`host` and `error_fact`, added later: an older file's errors are words alone)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(buyers)")}
    return ", ".join(name if name in present else f"NULL AS {name}" for name in BuyerRecord._fields)


_FACT_AT = BuyerRecord._fields.index("error_fact")


def _row(record: BuyerRecord) -> tuple[object, ...]:
    """A record as its row: its error's fact as JSON."""
    if record.error_fact is None:
        return record
    return (*record[:_FACT_AT], json.dumps(record.error_fact, ensure_ascii=False), *record[_FACT_AT + 1 :])


def _record(row: tuple[Any, ...]) -> BuyerRecord:
    """A row as its record: its error's fact read back from JSON."""
    if row[_FACT_AT] is None:
        return BuyerRecord._make(row)
    return BuyerRecord._make((*row[:_FACT_AT], json.loads(row[_FACT_AT]), *row[_FACT_AT + 1 :]))


class BuyerFiles:
    def __init__(self, folders: RunFolders) -> None:
        self.folders = folders

    def path(self, sim_id: str) -> Path:
        return self.folders.path(sim_id) / BUYERS_DB_NAME

    def _partial_path(self, sim_id: str) -> Path:
        path = self.path(sim_id)
        return path.with_name(f"{path.name}.partial")

    def clear_partial(self, sim_id: str) -> None:
        """Delete the half-written file of a run killed with the server while saving (never a finished file)."""
        self._partial_path(sim_id).unlink(missing_ok=True)

    def save(self, sim_id: str, records: Iterable[BuyerRecord]) -> None:
        """Write a finished run's buyer records to their own file, which appears whole or not at all."""
        path = self.path(sim_id)
        partial = self._partial_path(sim_id)
        partial.unlink(missing_ok=True)
        try:
            db = sqlite3.connect(partial, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode = OFF")
                db.execute(BUYERS_SCHEMA)
                db.execute("BEGIN")
                db.executemany(_INSERT_BUYER, map(_row, records))
                db.execute("COMMIT")
            finally:
                db.close()
            os.replace(partial, path)
        except sqlite3.Error as e:
            raise StoreError(f"cannot save the buyers of {sim_id}: {e}") from e
        finally:
            partial.unlink(missing_ok=True)

    def save_aside(self, sim_id: str, records: list[BuyerRecord]) -> Saving:
        """Start saving `records` (as `save` does) in a child of this process, and return at once: the caller
        goes on with its own work, then waits for the file with `Saving.wait`.

        Only a process with one thread can fork safely, so a process with more (a dask client's) saves here and
        now, as do runs too small to gain from a child.
        """
        if len(records) < SAVE_ASIDE_FROM or threading.active_count() > 1:
            return Saving.here(lambda: self.save(sim_id, records))
        parent = os.getpid()
        reader, writer = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(reader)
            os.close(writer)
            return Saving.here(lambda: self.save(sim_id, records))
        if pid == 0:  # the child: save, say why it could not, and exit without the parent's clean-up
            code = 1
            try:
                os.close(reader)
                die_with_parent(parent)
                self.save(sim_id, records)
                code = 0
            except BaseException as e:
                with contextlib.suppress(OSError):
                    os.write(writer, str(e).encode()[: select.PIPE_BUF])
            finally:
                os._exit(code)
        os.close(writer)
        return Saving(pid, reader, lambda: self.clear_partial(sim_id), None)

    @contextmanager
    def _open(self, sim_id: str) -> Iterator[sqlite3.Connection | None]:
        """The run's buyer file, read-only; None when the run has saved none (it has not finished)."""
        path = self.path(sim_id)
        if not path.exists():
            yield None
            return
        try:
            db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error:
            yield None  # deleted meanwhile
            return
        try:
            yield db
        except sqlite3.Error as e:
            raise StoreError(f"{path}: {e}") from e
        finally:
            db.close()

    def page(self, sim_id: str, offset: int, limit: int) -> tuple[list[BuyerRecord], int]:
        """One page of a simulation's buyer records, by buyer number, and how many there are in all."""
        with self._open(sim_id) as db:
            if db is None:
                return [], 0
            rows = db.execute(
                f"SELECT {_buyer_columns(db)} FROM buyers ORDER BY buyer LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
            (count,) = db.execute("SELECT COUNT(*) FROM buyers").fetchone()
        return [_record(r) for r in rows], count

    def first_start(self, sim_id: str) -> int | None:
        """The earliest t_start of a simulation's buyers (monotonic ns); None when no buyer started or none saved."""
        with self._open(sim_id) as db:
            if db is None:
                return None
            (first,) = db.execute("SELECT MIN(t_start) FROM buyers").fetchone()
        return None if first is None else int(first)

    def chunks(self, sim_id: str, chunk: int = 5000) -> Iterator[list[BuyerRecord]]:
        """Every buyer record of a simulation, in chunks; each chunk is read on its own connection."""
        after = 0
        while True:
            with self._open(sim_id) as db:
                if db is None:
                    return
                rows = db.execute(
                    f"SELECT {_buyer_columns(db)} FROM buyers WHERE buyer > ? ORDER BY buyer LIMIT ?", (after, chunk)
                ).fetchall()
            if not rows:
                return
            yield [_record(r) for r in rows]
            after = rows[-1][0]


class Saving:
    """A buyer file being written by a child process (`BuyerFiles.save_aside`), or written already (`here`)."""

    def __init__(
        self, pid: int | None, reader: int | None, clear_partial: Callable[[], None], error: StoreError | None
    ) -> None:
        self.pid = pid
        self.reader = reader
        self.clear_partial = clear_partial
        self.error = error

    @classmethod
    def here(cls, save: Callable[[], None]) -> Saving:
        """Save in this process, now: `wait` then raises what saving raised, if anything."""
        try:
            save()
        except StoreError as e:
            return cls(None, None, lambda: None, e)
        return cls(None, None, lambda: None, None)

    def wait(self, timeout: float = SAVE_TIMEOUT_S) -> None:
        """Until the file is whole; StoreError if the child failed, died or took longer than `timeout` (it is
        killed then, and its half-written file deleted). Waiting again raises the same."""
        if self.pid is not None:
            self.error = self._reap(self.pid, timeout)
            self.pid = None
        if self.error is not None:
            raise self.error

    def _reap(self, pid: int, timeout: float) -> StoreError | None:
        assert self.reader is not None
        said = b""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0 and select.select([self.reader], [], [], left)[0]:
                chunk = os.read(self.reader, select.PIPE_BUF)
                if not chunk:
                    break  # the child has exited
                said += chunk
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.clear_partial()
                return StoreError(f"saving them took longer than {timeout:g} s")
        finally:
            os.close(self.reader)
            self.reader = None
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            return None
        self.clear_partial()
        return StoreError(said.decode(errors="replace") or f"the process saving them {speech.said(exit_cause(code))}")

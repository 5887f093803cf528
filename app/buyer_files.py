"""A finished run's buyer records: a SQLite file of their own in the run's folder, data_dir/runs/<id>/buyers.sqlite3.

Up to a million rows, so they stay out of the shared database: written under a temporary name and renamed into
place, the file is there whole or not at all, and writing or deleting it never holds the shared database's write
lock. Readers open it read-only, a connection per page or chunk.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.run_folders import RunFolders
from app.store_errors import StoreError
from workers import BuyerRecord

BUYERS_DB_NAME = "buyers.sqlite3"
BUSY_TIMEOUT_S = 30.0

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

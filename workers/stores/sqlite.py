"""An embedded database: the count is one row of the table `tickets` in `tickets.sqlite3`, in the run's folder.

    read-write     SELECT count, hold, UPDATE tickets SET count = <read - 1>, each statement committed on its
                   own (autocommit): buyers who read the same count write the same value (lost updates)
    atomic         UPDATE tickets SET count = count - 1 WHERE count > 0 RETURNING count
    optimistic     a version column: UPDATE ... SET count = ?, version = version + 1 WHERE version = ?
    for-update     BEGIN IMMEDIATE: SQLite's one write lock, taken before the read and held to the commit

The database is in WAL mode, so a read never waits for a writer. A writer that finds the write lock taken
waits up to its timeout (SQLite's busy timeout); a for-update buyer whose wait runs out gives up. Each process
opens its own connection; none is shared across a fork.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from workers.errors import DbError, LockTimeout, gave_up_waiting
from workers.speech import Fact, fact
from workers.stores.base import TicketStore

DB_NAME = "tickets.sqlite3"
BUSY_TIMEOUT_S = 30.0

_BEGIN = {"for-update": "BEGIN IMMEDIATE"}


class SqliteStore(TicketStore):
    kind = "sqlite"
    label = "the SQLite database"
    write_lock = "SQLite write lock"

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.path = run_dir / DB_NAME
        self._db: sqlite3.Connection | None = None
        self._timeout = BUSY_TIMEOUT_S

    def __getstate__(self) -> dict[str, object]:
        return {"run_dir": self.run_dir}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["run_dir"])  # type: ignore[misc]

    def home(self) -> Fact:
        return fact("home.sqlite", file=DB_NAME)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise DbError(fact("db.sqlite_unopened", path=str(self.path), words=str(e))) from e
        return db

    def create(self, tickets: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        db = self._connect()
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER, version INTEGER)")
            db.execute("INSERT INTO tickets VALUES (1, ?, 0)", (tickets,))
        except sqlite3.Error as e:
            raise DbError(fact("db.sqlite_uncreated", path=str(self.path), words=str(e))) from e
        finally:
            db.close()

    def final_count(self) -> int:
        self.open()
        try:
            return self.read()
        finally:
            self.close()

    def open(self) -> None:
        if self._db is None:
            self._db = self._connect()
            self._timeout = BUSY_TIMEOUT_S

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _run(self, sql: str, params: tuple[int, ...] = ()) -> sqlite3.Cursor:
        if self._db is None:
            self.open()
        assert self._db is not None
        try:
            return self._db.execute(sql, params)
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise LockTimeout(gave_up_waiting(self._timeout, fact("lock.waited.sqlite_write"))) from e
            raise DbError(fact("db.said", source=self.path.name, words=str(e))) from e
        except sqlite3.Error as e:
            raise DbError(fact("db.said", source=self.path.name, words=str(e))) from e

    def read(self) -> int:
        count: int = self._run("SELECT count FROM tickets").fetchone()[0]
        return count

    def write(self, count: int) -> None:
        self._run("UPDATE tickets SET count = ?", (count,))

    def read_versioned(self) -> tuple[int, int]:
        count, version = self._run("SELECT count, version FROM tickets").fetchone()
        return count, version

    def compare_and_set(self, version: int, count: int) -> bool:
        cursor = self._run("UPDATE tickets SET count = ?, version = version + 1 WHERE version = ?", (count, version))
        return cursor.rowcount == 1

    def take_one(self) -> int | None:
        row = self._run("UPDATE tickets SET count = count - 1 WHERE count > 0 RETURNING count").fetchone()
        return None if row is None else int(row[0])

    def begin(self, kind: str, timeout: float) -> None:
        if kind not in _BEGIN:
            raise NotImplementedError(f"SQLite has no '{kind}' transaction here")
        if timeout != self._timeout:
            self._run(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._timeout = timeout
        self._run(_BEGIN[kind])

    def commit(self) -> None:
        self._run("COMMIT")

    def rollback(self) -> None:
        if self._db is not None and self._db.in_transaction:
            self._db.execute("ROLLBACK")

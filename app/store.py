"""Where simulations live: a SQLite database under the data directory, shared by the server and its run processes.

    data_dir/server.lock                held by the server that owns the data dir (app.ownership)
    data_dir/ticketrush.sqlite3         tables `simulations` (status, config, times, result), `totals`, `steps`
    data_dir/runs/<id>/                 the run's folder (app.run_folders): its ticket db, its buyer records
                                        (app.buyer_files)

The database is in WAL mode, so readers go on while a run process writes, and every write to it is one short
IMMEDIATE transaction. Each thread keeps one connection (threads and processes never share one). A run process
saves the buyers first, then the result and the final status.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.buyer_files import BuyerFiles
from app.lifecycle import ACTIVE, TERMINAL, Status, check_transition
from app.run_folders import RunFolders, new_id
from app.store_errors import SimulationBusy, SimulationNotFound, StoreError
from workers import Result, SimulationConfig
from workers.speech import Fact, is_fact, said

DB_NAME = "ticketrush.sqlite3"
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS simulations (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    config      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    finished    INTEGER NOT NULL DEFAULT 0,
    buyers      INTEGER NOT NULL,
    result      TEXT,
    error       TEXT,
    error_fact  TEXT
);
CREATE INDEX IF NOT EXISTS simulations_by_status ON simulations (status);
CREATE INDEX IF NOT EXISTS simulations_by_created ON simulations (created_at);
CREATE TABLE IF NOT EXISTS totals (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    sim_id TEXT NOT NULL,
    n      INTEGER NOT NULL,
    buyer  INTEGER NOT NULL,
    PRIMARY KEY (sim_id, n)
);
"""

# What the completed runs added up to, kept apart from their rows so that deleting a run takes nothing away:
# total name -> the Result field it sums. A store made before this table starts from what its rows hold.
TOTALS = {"buyers": "buyers_total", "tickets_sold": "tickets_sold", "tickets_oversold": "oversold"}

_SIMULATION_COLUMNS = (
    "id, status, config, created_at, started_at, finished_at, finished, buyers, result, error, error_fact"
)


@dataclass(frozen=True)
class SimulationRow:
    """One simulation as stored."""

    id: str
    status: Status
    config: SimulationConfig
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    finished: int
    buyers: int
    result: Result | None
    error: str | None  # in English
    error_fact: Fact | None = None  # the same as a fact (workers.speech); None for words alone (an older row)

    def error_in(self, lang: str) -> str | None:
        """Why the run failed or stopped, in `lang` where the row keeps it as a fact, else in its own words."""
        return said(self.error_fact, lang) if self.error_fact is not None else self.error


@dataclass(frozen=True)
class Totals:
    """For /metrics: simulations in the store by status (down when one is deleted), and what every completed
    run has added up to since the store was made (never down: deleted runs still count).
    """

    by_status: dict[Status, int]
    buyers: int
    tickets_sold: int
    tickets_oversold: int


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _now() -> str:
    return _iso(datetime.now(UTC))


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _english(error: str | Fact | None) -> str | None:
    return said(error) if error is not None else None


def _row(values: tuple[Any, ...]) -> SimulationRow:
    sim_id, status, config, created_at, started_at, finished_at, finished, buyers, result, error, error_fact = values
    return SimulationRow(
        id=sim_id,
        status=Status(status),
        config=SimulationConfig.model_validate_json(config),
        created_at=datetime.fromisoformat(created_at),
        started_at=_time(started_at),
        finished_at=_time(finished_at),
        finished=finished,
        buyers=buyers,
        result=Result.model_validate_json(result) if result is not None else None,
        error=error,
        error_fact=json.loads(error_fact) if error_fact is not None else None,
    )


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.absolute()  # the buyer files are opened by URI, which needs a whole path
        self.path = data_dir / DB_NAME
        self.folders = RunFolders(self.data_dir / "runs")
        self.buyer_files = BuyerFiles(self.folders)
        self._local = threading.local()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened at its first use and kept: opening one costs more than a query.

        A connection that raised is closed and dropped, so the next use opens a fresh one (after a full disk,
        a read-only remount or a replaced file, say).
        """
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._open()
        try:
            yield db
        except sqlite3.Error as e:
            self._local.db = None
            db.close()
            raise StoreError(f"{self.path}: {e}") from e

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {self.path}: {e}") from e
        try:
            db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as e:
            db.close()
            raise StoreError(f"cannot open {self.path}: {e}") from e
        self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection (other threads' close when those threads end)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            db.close()

    @contextmanager
    def _transaction(self, kind: str = "DEFERRED") -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute(f"BEGIN {kind}")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def init(self) -> None:
        """Create the data directory, the database and its tables if they do not exist yet."""
        self.folders.init()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(simulations)")}
            if "error_fact" not in columns:  # a store made before errors were kept as facts: its rows keep words
                db.execute("ALTER TABLE simulations ADD COLUMN error_fact TEXT")
        with self._transaction("IMMEDIATE") as db:
            for name, field in TOTALS.items():
                db.execute(
                    "INSERT OR IGNORE INTO totals (name, value) "
                    f"SELECT ?, COALESCE(SUM(json_extract(result, '$.{field}')), 0) FROM simulations "
                    "WHERE result IS NOT NULL",
                    (name,),
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction on this thread's connection, for the tables kept beside these (experiments)."""
        with self._transaction("IMMEDIATE") as db:
            yield db

    def create(self, config: SimulationConfig) -> SimulationRow:
        """Store a new simulation, queued; `config` should be resolved (its seed chosen)."""
        with self._connect() as db:
            return self.insert(db, config)

    def insert(self, db: sqlite3.Connection, config: SimulationConfig) -> SimulationRow:
        """`create` on `db`, inside the caller's transaction (an experiment stores its trials with itself)."""
        row = SimulationRow(
            id=new_id(),
            status=Status.QUEUED,
            config=config,
            created_at=datetime.now(UTC),
            started_at=None,
            finished_at=None,
            finished=0,
            buyers=config.buyers,
            result=None,
            error=None,
        )
        db.execute(
            "INSERT INTO simulations (id, status, config, created_at, buyers) VALUES (?, ?, ?, ?, ?)",
            (row.id, row.status, config.model_dump_json(), _iso(row.created_at), row.buyers),
        )
        return row

    def get(self, sim_id: str) -> SimulationRow | None:
        with self._connect() as db:
            found = db.execute(f"SELECT {_SIMULATION_COLUMNS} FROM simulations WHERE id = ?", (sim_id,)).fetchone()
        return _row(found) if found is not None else None

    def get_many(self, sim_ids: Iterable[str]) -> dict[str, SimulationRow]:
        """The simulations among `sim_ids` that exist, by id, read in one transaction."""
        wanted = list(sim_ids)
        found: dict[str, SimulationRow] = {}
        with self._transaction() as db:
            for start in range(0, len(wanted), 500):  # SQLite takes a bounded number of parameters
                chunk = wanted[start : start + 500]
                rows = db.execute(
                    f"SELECT {_SIMULATION_COLUMNS} FROM simulations WHERE id IN ({', '.join('?' * len(chunk))})", chunk
                ).fetchall()
                found.update((row.id, row) for row in map(_row, rows))
        return found

    def page(self, offset: int, limit: int) -> tuple[list[SimulationRow], int]:
        """Simulations newest first, and how many there are in all."""
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_SIMULATION_COLUMNS} FROM simulations ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
            (count,) = db.execute("SELECT COUNT(*) FROM simulations").fetchone()
        return [_row(r) for r in rows], count

    def active(self) -> list[SimulationRow]:
        marks = ", ".join("?" * len(ACTIVE))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_SIMULATION_COLUMNS} FROM simulations WHERE status IN ({marks}) ORDER BY created_at",
                tuple(ACTIVE),
            ).fetchall()
        return [_row(r) for r in rows]

    def transition(
        self,
        sim_id: str,
        target: Status,
        *,
        error: str | Fact | None = None,
        result: Result | None = None,
    ) -> None:
        """The one way a status changes: refuse an illegal move, stamp the time, save the result with it; an
        `error` that is a fact is kept in English and as the fact, for each face to say in its user's language.

        Raises SimulationNotFound, or InvalidTransition when the lifecycle forbids the move (for instance the
        run completed just before a cancel arrived).
        """
        with self._transaction("IMMEDIATE") as db:
            found = db.execute("SELECT status FROM simulations WHERE id = ?", (sim_id,)).fetchone()
            if found is None:
                raise SimulationNotFound(sim_id)
            check_transition(sim_id, Status(found[0]), target)
            error_fact = json.dumps(error, ensure_ascii=False) if is_fact(error) else None
            changes: dict[str, object] = {"status": target, "error": _english(error), "error_fact": error_fact}
            changes["started_at" if target == Status.RUNNING else "finished_at"] = _now()
            if result is not None:
                changes["result"] = result.model_dump_json()
                changes["finished"] = result.buyers_total
            assignments = ", ".join(f"{column} = ?" for column in changes)
            db.execute(f"UPDATE simulations SET {assignments} WHERE id = ?", (*changes.values(), sim_id))
            if result is not None:
                db.executemany(
                    "UPDATE totals SET value = value + ? WHERE name = ?",
                    [(getattr(result, field), name) for name, field in TOTALS.items()],
                )

    def set_progress(self, sim_id: str, finished: int) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE simulations SET finished = ? WHERE id = ? AND status = ?", (finished, sim_id, Status.RUNNING)
            )

    def add_steps(self, sim_id: str, check: Callable[[list[int]], list[int]]) -> list[int]:
        """Append to a step-mode simulation's steps what `check(steps so far)` returns (it raises to refuse), in one
        transaction, so that two requests never both extend the same steps; returns every step."""
        with self._transaction("IMMEDIATE") as db:
            taken = [b for (b,) in db.execute("SELECT buyer FROM steps WHERE sim_id = ? ORDER BY n", (sim_id,))]
            added = check(taken)
            db.executemany(
                "INSERT INTO steps (sim_id, n, buyer) VALUES (?, ?, ?)",
                [(sim_id, len(taken) + i, buyer) for i, buyer in enumerate(added)],
            )
        return taken + added

    def steps(self, sim_id: str, after: int = 0) -> list[int]:
        """A step-mode simulation's steps, from the `after`-th on."""
        with self._connect() as db:
            rows = db.execute("SELECT buyer FROM steps WHERE sim_id = ? AND n >= ? ORDER BY n", (sim_id, after))
            return [b for (b,) in rows]

    def delete(self, sim_id: str) -> None:
        """Remove a finished simulation and its run folder (its ticket db and its buyer records)."""
        with self._transaction("IMMEDIATE") as db:
            found = db.execute("SELECT status FROM simulations WHERE id = ?", (sim_id,)).fetchone()
            if found is None:
                raise SimulationNotFound(sim_id)
            if Status(found[0]) not in TERMINAL:
                raise SimulationBusy(f"simulation {sim_id} is {found[0]}; cancel it before deleting it")
            db.execute("DELETE FROM simulations WHERE id = ?", (sim_id,))
            db.execute("DELETE FROM steps WHERE sim_id = ?", (sim_id,))
        # Only once the row is gone for good: a commit that fails (a full disk) must leave the files in place.
        self.folders.remove(sim_id)

    def clear_leftovers(self, sim_id: str) -> None:
        """Delete what a run killed with the server left half-made: the engine's files, a buyer file being saved."""
        self.folders.clear_leftovers(sim_id)
        self.buyer_files.clear_partial(sim_id)

    def totals(self) -> Totals:
        with self._transaction() as db:
            by_status = dict.fromkeys(Status, 0)
            for status, count in db.execute("SELECT status, COUNT(*) FROM simulations GROUP BY status"):
                by_status[Status(status)] = count
            sums = dict(db.execute("SELECT name, value FROM totals").fetchall())
        return Totals(
            by_status=by_status,
            buyers=sums.get("buyers", 0),
            tickets_sold=sums.get("tickets_sold", 0),
            tickets_oversold=sums.get("tickets_oversold", 0),
        )

"""A PostgreSQL server: the count is the one row of a table of the run's own, `ticketrush_<run key>`.

    read-write     SELECT count, hold, UPDATE ... SET count = <read - 1>, each in its own transaction under READ
                   COMMITTED (autocommit): buyers who read the same count write the same value (lost updates)
    atomic         UPDATE ... SET count = count - 1 WHERE count > 0 RETURNING count
    optimistic     a version column: UPDATE ... SET count = %s, version = version + 1 WHERE version = %s
    for-update     BEGIN; SELECT count ... FOR UPDATE (the row stays locked to the commit); hold; UPDATE; COMMIT
    serializable   BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT; hold; UPDATE; COMMIT: the server refuses all but
                   the first of the transactions that read the same row (SQLSTATE 40001, WriteConflict here)
    lock advisory  BEGIN; SELECT pg_advisory_xact_lock(<run's key>) around read-write; COMMIT releases it

Each process opens its own connection (psycopg 3, autocommit) after it is forked, named after the run
(`application_name`), so the server's pg_stat_activity shows whose it is; a pool worker keeps one for all its
buyers. The table is made by the coordinator and kept after the run (its final count is the result); `drop`
removes it when the run is deleted. A lock wait (FOR UPDATE, the advisory lock) runs out after the buyer's
timeout (`lock_timeout`) and the buyer gives up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from workers.errors import DbError, LockTimeout, RunFailed, WriteConflict, gave_up_waiting
from workers.speech import Fact, fact
from workers.stores.base import ServerStore, first_line

CONNECT_TIMEOUT_S = 10
DEFAULT_LOCK_TIMEOUT_S = 30.0

_BEGIN = {
    "for-update": "BEGIN",
    "serializable": "BEGIN ISOLATION LEVEL SERIALIZABLE",
    "advisory": "BEGIN",
}

# What psycopg was doing when a connection failed, which it puts before libpq's words (connection failed: ...
# is kept: it says the connection was never made).
_CLIENT_STEPS = ("consuming input", "sending query", "sending query and params")

_CONNECTION_LIMITS = """
SELECT current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true), '0')::int,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int - 1
"""


# The advisory lock runs take from their connection check to their buyers' connections (see `admit`): a pair of
# 32-bit keys, a key space apart from the one-key advisory locks of the runs' buyers.
_ADMISSION = (0x7469636B, 0x61646D74)


class PostgresStore(ServerStore):
    kind = "postgres"
    label = "the PostgreSQL table"
    write_lock = "PostgreSQL row lock"
    server = "PostgreSQL"

    def __init__(self, run_dir: Path, url: str) -> None:
        super().__init__(run_dir, url)
        self.table = f"ticketrush_{self.key}"
        self.lock_key = int.from_bytes(hashlib.blake2b(self.table.encode(), digest_size=8).digest(), "big", signed=True)
        self._conn: psycopg.Connection | None = None
        self._admission: psycopg.Connection | None = None
        self._lock_timeout = DEFAULT_LOCK_TIMEOUT_S
        self._for_update = False
        name = sql.Identifier(self.table).as_string()
        self._read = f"SELECT count FROM {name}"
        self._read_for_update = f"SELECT count FROM {name} FOR UPDATE"
        self._write = f"UPDATE {name} SET count = %s"
        self._read_versioned = f"SELECT count, version FROM {name}"
        self._compare_and_set = f"UPDATE {name} SET count = %s, version = version + 1 WHERE version = %s"
        # the atomic strategy's one statement (bench.native runs it with pgbench, to measure the server's own limit)
        self.take_one_sql = f"UPDATE {name} SET count = count - 1 WHERE count > 0 RETURNING count"
        self._create = (
            f"DROP TABLE IF EXISTS {name}; "
            f"CREATE TABLE {name} (id int PRIMARY KEY CHECK (id = 1), count bigint NOT NULL, version bigint NOT NULL)"
        )
        self._fill = f"INSERT INTO {name} VALUES (1, %s, 0)"
        self._drop = f"DROP TABLE IF EXISTS {name}"

    @property
    def where(self) -> str:
        try:
            parts = conninfo_to_dict(self.url)
        except psycopg.Error:
            return "the URL given"
        return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"

    def home(self) -> Fact:
        return fact("home.postgres", table=self.table)

    def words(self, error: BaseException) -> str:
        """The server's own message where it sent one ("terminating connection due to administrator command"),
        else the client's, without the step it was on ("consuming input failed: ")."""
        primary = getattr(getattr(error, "diag", None), "message_primary", None)
        if primary:
            return str(primary)
        words = first_line(error)
        step, sep, rest = words.partition(" failed: ")
        return rest if sep and step in _CLIENT_STEPS else words

    # -- connections ------------------------------------------------------------------------------------------

    def _connect(self, role: str = "") -> psycopg.Connection:
        try:
            return psycopg.connect(
                self.url,
                autocommit=True,
                application_name=f"ticketrush {role}{self.key}",
                connect_timeout=CONNECT_TIMEOUT_S,
                options=f"-c lock_timeout={int(DEFAULT_LOCK_TIMEOUT_S * 1000)}",
            )
        except psycopg.Error as e:
            raise self.lost("unreachable", e) from e

    def open(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
            self._lock_timeout = DEFAULT_LOCK_TIMEOUT_S

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _once(self, statement: str, params: tuple[int, ...] = ()) -> None:
        """Run `statement` on a connection of its own (the coordinator's and the caller's side)."""
        self.open()
        try:
            self._run(statement, params)
        finally:
            self.close()

    def _run(self, statement: str, params: tuple[int, ...] = ()) -> psycopg.Cursor:
        if self._conn is None:
            self.open()
        conn = self._conn
        assert conn is not None
        try:
            return conn.execute(statement, params)
        except (errors.SerializationFailure, errors.DeadlockDetected) as e:  # SQLSTATE 40001, 40P01
            raise WriteConflict(fact("db.write_conflict", words=first_line(e))) from e
        except errors.LockNotAvailable as e:
            raise LockTimeout(gave_up_waiting(self._lock_timeout, fact("lock.waited.postgres_write"))) from e
        except psycopg.Error as e:
            if conn.broken or conn.closed:
                self._conn = None
                raise self.lost("closed", e) from e
            raise DbError(fact("db.said", source="PostgreSQL", words=first_line(e))) from e

    # -- the coordinator's side -------------------------------------------------------------------------------

    def connection_problem(self, connections: int, who: Fact) -> Fact | None:
        self.open()
        try:
            most, reserved, in_use = self._run(_CONNECTION_LIMITS).fetchone()  # type: ignore[misc]
        finally:
            self.close()
        left = most - reserved - in_use
        if connections <= left:
            return None
        return fact(
            "connections.postgres",
            connections=connections,
            where=self.where,
            who=who,
            most=most,
            reserved=reserved,
            in_use=in_use,
            left=max(left, 0),
        )

    def admit(self, timeout_s: float) -> None:
        if self._admission is not None:
            return
        conn = self._connect("admission ")
        try:
            conn.execute(f"SET lock_timeout = {max(1, int(timeout_s * 1000))}")
            conn.execute("SELECT pg_advisory_lock(%s::int, %s::int)", _ADMISSION)
        except errors.LockNotAvailable:
            conn.close()
            raise RunFailed(fact("run.admission_timed_out", where=self.where, seconds=f"{timeout_s:g}")) from None
        except psycopg.Error as e:
            conn.close()
            raise self.lost("admission", e) from e
        self._admission = conn

    def admitted(self) -> None:
        if self._admission is not None:
            self._admission.close()  # a session's advisory locks end with it
            self._admission = None

    def create(self, tickets: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)  # for a file lock beside it
        self.open()
        try:
            self._run(self._create)
            self._run(self._fill, (tickets,))
        finally:
            self.close()

    def drop(self) -> None:
        self._once(self._drop)

    def final_count(self) -> int:
        self.open()
        try:
            return self.read()
        finally:
            self.close()

    # -- the buyers' side -------------------------------------------------------------------------------------

    def read(self) -> int:
        row = self._run(self._read_for_update if self._for_update else self._read).fetchone()
        if row is None:
            raise DbError(fact("db.table_gone", table=self.table))
        return int(row[0])

    def write(self, count: int) -> None:
        self._run(self._write, (count,))

    def read_versioned(self) -> tuple[int, int]:
        row = self._run(self._read_versioned).fetchone()
        if row is None:
            raise DbError(fact("db.table_gone", table=self.table))
        return int(row[0]), int(row[1])

    def compare_and_set(self, version: int, count: int) -> bool:
        return self._run(self._compare_and_set, (count, version)).rowcount == 1

    def take_one(self) -> int | None:
        row = self._run(self.take_one_sql).fetchone()
        return None if row is None else int(row[0])

    def begin(self, kind: str, timeout: float) -> None:
        if timeout != self._lock_timeout:
            self._run(f"SET lock_timeout = {max(1, int(timeout * 1000))}")
            self._lock_timeout = timeout
        self._run(_BEGIN[kind])
        self._for_update = kind == "for-update"
        if kind == "advisory":
            try:
                self._run("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
            except LockTimeout:
                self.rollback()
                raise

    def commit(self) -> None:
        self._for_update = False
        self._run("COMMIT")

    def rollback(self) -> None:
        self._for_update = False
        conn = self._conn
        if conn is not None and not conn.broken:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                self.close()  # a connection that cannot even roll back is of no more use

"""The PostgreSQL and Redis servers the store tests talk to, and what the tests do to them.

The servers are TICKETRUSH_POSTGRES_URL and TICKETRUSH_REDIS_URL, else the local ones (PostgreSQL on
127.0.0.1:5432 with trust authentication, database `test`, user `postgres`; Redis on 127.0.0.1:6379). A test
that uses one is marked `postgres` or `redis`; where it does not answer, the test skips and says why, which under
CI is a failure (tests/conftest.py). Loaded for every test by tests/conftest.py (`pytest_plugins`).

A run's connections carry its name (application_name on PostgreSQL, CLIENT SETNAME on Redis), so a test
closes only its own run's connections from the server side (pg_terminate_backend, CLIENT KILL), never the
server itself or anyone else's.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from workers.stores.base import run_key
from workers.stores.postgres import PostgresStore
from workers.stores.redis import RedisStore

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
ANSWER_TIMEOUT_S = 5.0


def _postgres_answer(url: str) -> str | None:
    """None if a PostgreSQL server at `url` lets its user into its database without a password; else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    user, database = parts.username or "postgres", parts.path.lstrip("/") or parts.username or "postgres"
    params = b"".join(f"{k}\0{v}\0".encode() for k, v in (("user", user), ("database", database))) + b"\0"
    startup = struct.pack("!ii", 8 + len(params), 196608) + params  # a StartupMessage, protocol 3.0
    try:
        with socket.create_connection((host, port), timeout=ANSWER_TIMEOUT_S) as s:
            s.sendall(startup)
            while True:  # authentication, parameters, then ReadyForQuery or an ErrorResponse
                kind, length = struct.unpack("!ci", _read(s, 5))
                body = _read(s, length - 4)
                if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                    return f"PostgreSQL at {host}:{port} asks {user} for a password; the tests expect trust"
                if kind == b"E":
                    fields = {f[:1]: f[1:].decode(errors="replace") for f in body.split(b"\0") if f}
                    return f"PostgreSQL at {host}:{port} refused {user} on database {database}: {fields.get(b'M')}"
                if kind == b"Z":
                    s.sendall(b"X\0\0\0\4")  # Terminate
                    return None
    except OSError as e:
        return f"no PostgreSQL answers at {host}:{port} ({e})"


def _redis_answer(url: str) -> str | None:
    """None if a Redis server at `url` answers PING; else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=ANSWER_TIMEOUT_S) as s:
            s.sendall(b"PING\r\n")
            answer = s.recv(64)
    except OSError as e:
        return f"no Redis answers at {host}:{port} ({e})"
    return None if answer == b"+PONG\r\n" else f"Redis at {host}:{port} answered PING with {answer!r}"


def _read(s: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = s.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server the tests use (TICKETRUSH_POSTGRES_URL, else the local one, database `test`)."""
    url = os.environ.get("TICKETRUSH_POSTGRES_URL") or LOCAL_POSTGRES_URL
    if problem := _postgres_answer(url):
        pytest.skip(f"{problem}: start it, or set TICKETRUSH_POSTGRES_URL")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server the tests use (TICKETRUSH_REDIS_URL, else the local one)."""
    url = os.environ.get("TICKETRUSH_REDIS_URL") or LOCAL_REDIS_URL
    if problem := _redis_answer(url):
        pytest.skip(f"{problem}: start it, or set TICKETRUSH_REDIS_URL")
    return url


class Postgres:
    """An administrator's view of the PostgreSQL server: what a run left there, and its connections."""

    # What a buyer hears when its connection is terminated: the server's message, or libpq's when the socket
    # closed before the client read that message (which of the two is a race between the server and the client).
    TERMINATED = ("terminating connection due to administrator command", "server closed the connection unexpectedly")

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)
        self.where = PostgresStore(Path("."), url).where  # as the engine's messages name the server

    def close(self) -> None:
        self.conn.close()

    def table_of(self, run_dir: Path) -> str:
        return PostgresStore(run_dir, self.url).table

    def has_table(self, run_dir: Path) -> bool:
        found = self.conn.execute("SELECT to_regclass(%s)", (f'"{self.table_of(run_dir)}"',)).fetchone()
        return found is not None and found[0] is not None

    def tables(self, run_dirs: list[Path]) -> int:
        """How many of these runs' tables the server has (information_schema)."""
        names = [self.table_of(d) for d in run_dirs]
        row = self.conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ANY(%s)", (names,))
        return int(row.fetchone()[0])  # type: ignore[index]

    def count(self, run_dir: Path) -> int:
        row = self.conn.execute(f'SELECT count FROM "{self.table_of(run_dir)}"').fetchone()
        assert row is not None
        return int(row[0])

    def connections(self, run_dir: Path) -> int:
        name = f"ticketrush {PostgresStore(run_dir, self.url).key}"
        row = self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,))
        return int(row.fetchone()[0])  # type: ignore[index]

    def closed_on(self, message: str) -> str:
        """The rest of `message` after the engine's words for a connection this server terminated; fails the test
        if it does not say that."""
        head = f"the PostgreSQL server at {self.where} closed the connection: "
        assert message.startswith(head), message
        rest = message.removeprefix(head)
        assert rest.startswith(self.TERMINATED), message
        return rest

    def close_connections(self, run_dir: Path) -> int:
        """Terminate the run's connections from the server's side; how many there were."""
        name = f"ticketrush {PostgresStore(run_dir, self.url).key}"
        row = self.conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
        return int(row[0])  # type: ignore[index]


class Redis:
    """An administrator's view of the Redis server: the run's keys, and its connections."""

    # What a buyer hears when CLIENT KILL closes its connection: the end of the stream, or (if the client wrote
    # before it saw that end) the reset its write or its next read met.
    TERMINATED = ("Connection closed by server", "Error 104 while", "Error 32 while", "Error while reading from")

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url)
        self.where = RedisStore(Path("."), url).where  # as the engine's messages name the server

    def close(self) -> None:
        self.client.close()

    def store_of(self, run_dir: Path) -> RedisStore:
        return RedisStore(run_dir, self.url)

    def keys(self, run_dir: Path) -> list[bytes]:
        return list(self.client.scan_iter(match=f"{self.store_of(run_dir).prefix}:*"))

    def count(self, run_dir: Path) -> int:
        return int(self.client.get(self.store_of(run_dir).count_key))  # type: ignore[arg-type]

    def _clients(self, run_dir: Path) -> list[dict[str, str]]:
        name = f"ticketrush-{self.store_of(run_dir).key}"
        return [c for c in self.client.client_list() if c.get("name") == name]

    def connections(self, run_dir: Path) -> int:
        return len(self._clients(run_dir))

    def closed_on(self, message: str) -> str:
        """The rest of `message` after the engine's words for a connection this server closed; fails the test if
        it does not say that."""
        head = f"the Redis server at {self.where} closed the connection: "
        assert message.startswith(head), message
        rest = message.removeprefix(head)
        assert rest.startswith(self.TERMINATED), message
        return rest

    def close_connections(self, run_dir: Path) -> int:
        """CLIENT KILL the run's connections; how many there were."""
        clients = self._clients(run_dir)
        for client in clients:
            self.client.client_kill_filter(_id=client["id"])
        return len(clients)


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Postgres]:
    admin = Postgres(postgres_url)
    yield admin
    admin.close()


@pytest.fixture
def redis_server(redis_url: str) -> Iterator[Redis]:
    admin = Redis(redis_url)
    yield admin
    admin.close()


def servers_of(request: pytest.FixtureRequest) -> dict[str, str]:
    """The URLs of the servers the test's marks name (asked for before the test runs, not in its teardown)."""
    marked = {"postgres": "postgres_url", "redis": "redis_url"}
    return {store: request.getfixturevalue(f) for store, f in marked.items() if request.node.get_closest_marker(store)}


def drop_runs_under(folder: Path, servers: dict[str, str]) -> None:
    """Drop every table and key a run in a folder under `folder` left on `servers`, so that a test that failed
    before it dropped its run leaves nothing behind either."""
    keys = {run_key(d) for d in [folder, *folder.rglob("*")] if d.is_dir()}
    if "postgres" in servers:
        with psycopg.connect(servers["postgres"], autocommit=True) as conn:
            for key in keys:
                conn.execute(f'DROP TABLE IF EXISTS "ticketrush_{key}"')
    if "redis" in servers:
        client = redis.Redis.from_url(servers["redis"])
        try:
            for key in keys:
                found = list(client.scan_iter(match=f"ticketrush:{key}:*"))
                if found:
                    client.delete(*found)
        finally:
            client.close()

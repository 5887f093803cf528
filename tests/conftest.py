"""Rules for the whole suite: what a test needs of the machine, and what a skip means under CI.

A test that needs something of the machine carries a marker that says what (registered in pyproject.toml):
`browser` (Debian's chromium), `disk` (mounting file systems), `image` (root and Debian's tini, to run the
Docker image's ENTRYPOINT as its USER), `postgres` and `redis` (the servers the `postgres_url` and
`redis_url` fixtures name; a test that uses one of them is marked for it). Where the machine lacks the thing,
such a test skips and says what is missing. Under CI (the environment variable CI set to true) .ci/run has
installed and started everything these tests need, so there such a skip is a failure: a green CI run means
every one of them ran. One exception: a `netns` test (network namespaces) skipped because the machine refuses
namespaces stays skipped, since a container's kernel rules are not something .ci/run can set up.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Generator
from urllib.parse import urlsplit

import pytest

from tests.namespaces import REFUSED as NAMESPACES_REFUSED

MACHINE_MARKERS = ("browser", "disk", "image", "postgres", "redis")
POSTGRES_URL = os.environ.get("TICKETRUSH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TICKETRUSH_REDIS_URL", "redis://127.0.0.1:6379/0")
SERVER_FIXTURES = {"postgres_url": "postgres", "redis_url": "redis"}
ANSWER_TIMEOUT_S = 5.0


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in SERVER_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    report = yield
    assert isinstance(report, pytest.TestReport)
    needs = [name for name in MACHINE_MARKERS if item.get_closest_marker(name)]
    if report.skipped and needs and under_ci() and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if item.get_closest_marker("netns") and NAMESPACES_REFUSED in reason:
            return report  # the kernel's (or the container's) rule, which no setup step can change
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI, where a {'/'.join(needs)} test must run: {reason}\n"
            ".ci/run installs and starts what these tests need; see it for what failed to come up"
        )
    return report


# --- the servers the store tests run against -------------------------------------------------------------------


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
    if problem := _postgres_answer(POSTGRES_URL):
        pytest.skip(f"{problem}: start it, or set TICKETRUSH_POSTGRES_URL")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server the tests use (TICKETRUSH_REDIS_URL, else the local one)."""
    if problem := _redis_answer(REDIS_URL):
        pytest.skip(f"{problem}: start it, or set TICKETRUSH_REDIS_URL")
    return REDIS_URL

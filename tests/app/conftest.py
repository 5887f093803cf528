"""Fixtures for the HTTP service tests: real servers on free ports, and no process left behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_server import GONE_TIMEOUT_S, Server, own_children, wait_for


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers with `start_server(data_dir=None, **env)`; each is stopped and checked at the end."""
    servers: list[Server] = []

    def start(data_dir: Path | None = None, **env: str) -> Server:
        folder = data_dir or tmp_path / f"data{len(servers)}"
        server = Server(folder, env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    assert own_children() == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by a module's tests (default settings)."""
    running = Server(tmp_path_factory.mktemp("shared") / "data", {})
    yield running
    running.stop()
    assert own_children() == []


@pytest.fixture
def no_leftover_children() -> Iterator[None]:
    """For in-process tests: no child process of the test process may remain afterwards."""
    yield
    wait_for(lambda: own_children() == [], GONE_TIMEOUT_S, "the test's child processes to be gone")

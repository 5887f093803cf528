"""Fixtures for the HTTP service tests: real servers on free ports, and no process left behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient
from live_server import GONE_TIMEOUT_S, Server, own_children, wait_for

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers with `start_server(data_dir=None, **env)`, or as `make run` does with
    `start_server(project_root=folder, **env)`; each is stopped and checked at the end.
    """
    servers: list[Server] = []

    def start(data_dir: Path | None = None, project_root: Path | None = None, **env: str) -> Server:
        if project_root is not None:
            server = Server.like_make_run(project_root, env)
        else:
            server = Server(data_dir or tmp_path / f"data{len(servers)}", env)
        servers.append(server)
        return server

    yield start
    failures = []
    for server in reversed(servers):  # a restarted server shares its predecessor's data dir
        try:
            server.stop()
        except BaseException as e:  # stop the others all the same
            failures.append(e)
    if failures:
        raise failures[0]
    assert own_children() == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by a module's tests, started as `make run` starts it: default settings, ./data."""
    running = Server.like_make_run(tmp_path_factory.mktemp("project"), {})
    yield running
    running.stop()
    assert own_children() == []


@pytest.fixture
def no_leftover_children() -> Iterator[None]:
    """For in-process tests: no child process of the test process may remain afterwards.

    The first process spawned from the test process also starts multiprocessing's resource tracker, which would
    otherwise stay for the whole session; it is stopped (and reaped) here and starts again when next needed.
    """
    yield
    resource_tracker._resource_tracker._stop()
    wait_for(lambda: psutil.Process().children(recursive=True) == [], GONE_TIMEOUT_S, "the test's children to be gone")


@pytest.fixture
def make_client(tmp_path: Path, no_leftover_children: None) -> Iterator[Callable[..., TestClient]]:
    """In-process app on a temporary data dir, `make_client(**settings)`, for tests a real server adds nothing to."""
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        client = TestClient(create_app(Settings(data_dir=tmp_path / f"data{len(clients)}", **settings)))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)

"""Fixtures of the store tests: the servers (see tests/servers.py) and the URLs a run is given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import drop_runs_under, servers_of


@pytest.fixture
def store_urls(request: pytest.FixtureRequest) -> dict[str, str]:
    """The URLs of the servers the test's marks say it uses."""
    return servers_of(request)


@pytest.fixture(autouse=True)
def nothing_left_on_the_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    servers = servers_of(request)
    yield
    drop_runs_under(tmp_path, servers)

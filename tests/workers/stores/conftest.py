"""Fixtures of the store tests: the servers (see tests/servers.py) and the URLs a run is given."""

from __future__ import annotations

import pytest

from tests.servers import postgres, postgres_url, redis_server, redis_url

__all__ = ["postgres", "postgres_url", "redis_server", "redis_url"]


@pytest.fixture
def store_urls(request: pytest.FixtureRequest) -> dict[str, str]:
    """The URLs of the servers the test's marks say it uses."""
    urls = {}
    if request.node.get_closest_marker("postgres"):
        urls["postgres"] = request.getfixturevalue("postgres_url")
    if request.node.get_closest_marker("redis"):
        urls["redis"] = request.getfixturevalue("redis_url")
    return urls

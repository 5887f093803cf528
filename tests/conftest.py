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
from collections.abc import Generator

import pytest

from tests.namespaces import REFUSED as NAMESPACES_REFUSED

pytest_plugins = ("tests.servers",)  # the servers' fixtures, for every test

MACHINE_MARKERS = ("browser", "disk", "image", "postgres", "redis")
SERVER_FIXTURES = {"postgres_url": "postgres", "redis_url": "redis"}


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

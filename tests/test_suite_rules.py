"""The suite's own rules (tests/conftest.py), run on a small suite of their own: under CI, a test that needs
the browser, the disk tricks, the image's tini, PostgreSQL or Redis fails instead of skipping; elsewhere it
skips, saying what is missing; other skips and expected failures are left as they are, and so is a netns test's
skip where the machine refuses network namespaces.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MARKERS = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]

SUITE = """
import pytest

@pytest.mark.browser
def test_needs_the_browser():
    pytest.skip("needs Debian's chromium")

@pytest.mark.disk
def test_needs_a_mount():
    pytest.skip("mount refused")

def test_uses_postgres(postgres_url):
    assert postgres_url

def test_uses_redis(redis_url):
    assert redis_url

def test_skips_for_a_reason_of_its_own():
    pytest.skip("not on this platform")

@pytest.mark.browser
@pytest.mark.xfail(reason="known", strict=True)
def test_browser_expected_failure():
    assert False

@pytest.mark.browser
def test_browser_that_runs():
    assert True

@pytest.mark.netns
@pytest.mark.redis
def test_netns_refused_by_the_kernel():
    pytest.skip("network namespaces: the kernel refused `ip netns add`: Operation not permitted")

@pytest.mark.netns
def test_netns_whose_server_is_missing(redis_url):
    assert redis_url
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The small suite, with the real conftest, and servers that are not there."""
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makeini("[pytest]\naddopts = --strict-markers -ra\nmarkers =\n" + "".join(f"    {m}\n" for m in MARKERS))
    pytester.makepyfile(test_needs=SUITE)
    monkeypatch.setenv("TICKETRUSH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:9/test")  # port 9: nobody
    monkeypatch.setenv("TICKETRUSH_REDIS_URL", "redis://127.0.0.1:9/0")
    return pytester


def outcomes(suite: pytest.Pytester) -> dict[str, tuple[str, str, str]]:
    """Each test's outcome, the phase that decided it, and what it said."""
    passed, skipped, failed = suite.inline_run().listoutcomes()
    return {r.nodeid.split("::")[-1]: (r.outcome, r.when, r.longreprtext) for r in [*passed, *skipped, *failed]}


def test_suite_under_ci_a_skipped_machine_test_is_a_failure(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")

    found = outcomes(suite)

    assert {name: outcome for name, (outcome, _, _) in found.items()} == {
        "test_needs_the_browser": "failed",
        "test_needs_a_mount": "failed",
        "test_uses_postgres": "failed",  # in its fixture: reported as an error
        "test_uses_redis": "failed",
        "test_skips_for_a_reason_of_its_own": "skipped",
        "test_browser_expected_failure": "skipped",  # an xfail is reported as skipped, and stays one
        "test_browser_that_runs": "passed",
        "test_netns_refused_by_the_kernel": "skipped",  # the machine's rule, which .ci/run cannot change
        "test_netns_whose_server_is_missing": "failed",
    }
    assert found["test_needs_the_browser"][2].startswith(
        "skipped under CI, where a browser test must run: Skipped: needs Debian's chromium\n.ci/run installs"
    )
    assert found["test_uses_postgres"][2].startswith(
        "skipped under CI, where a postgres test must run: Skipped: no PostgreSQL answers at 127.0.0.1:9 ("
    )
    assert found["test_uses_redis"][2].startswith(
        "skipped under CI, where a redis test must run: Skipped: no Redis answers at 127.0.0.1:9 ("
    )


def test_suite_off_ci_a_machine_test_skips_saying_what_is_missing(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)

    found = outcomes(suite)

    assert [name for name, (outcome, _, _) in found.items() if outcome != "skipped"] == ["test_browser_that_runs"]
    assert "no PostgreSQL answers at 127.0.0.1:9 (" in found["test_uses_postgres"][2]
    assert "start it, or set TICKETRUSH_POSTGRES_URL" in found["test_uses_postgres"][2]
    assert "no Redis answers at 127.0.0.1:9 (" in found["test_uses_redis"][2]

"""Benchmark test fixtures: every test must leave no child process behind, alive or zombie."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psutil
import pytest


@pytest.fixture(autouse=True)
def no_children_left() -> Iterator[None]:
    yield
    me = psutil.Process()
    deadline = time.monotonic() + 5
    while (left := [c for c in me.children(recursive=True) if c.is_running()]) and time.monotonic() < deadline:
        time.sleep(0.02)
    for child in left:
        child.kill()
    assert not left, f"child processes left behind: {[c.pid for c in left]}"

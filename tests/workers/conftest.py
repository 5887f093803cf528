"""Engine test fixtures: every test must leave no child process behind, alive or zombie."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


def leftover_children(grace_s: float = 2.0) -> list[psutil.Process]:
    """Children of the test process still there after `grace_s` (a just-killed child may take a moment)."""
    me = psutil.Process()
    deadline = time.monotonic() + grace_s
    while True:
        children = [c for c in me.children(recursive=True) if c.is_running()]
        if not children or time.monotonic() > deadline:
            return children
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def no_children_left() -> Iterator[None]:
    yield
    left = leftover_children()
    descriptions = [f"{c.pid} {c.name()} {c.status()}" for c in left]
    for child in left:
        child.kill()
    assert not left, f"child processes left behind: {descriptions}"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"

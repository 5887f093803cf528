"""A real Dask cluster for the dask executor's tests (bench.cluster: `dask scheduler` and two `dask worker`
processes on 127.0.0.1). The fixture that starts a cluster stops it, and checks that none of its processes is
left."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench.cluster import Cluster, start_cluster, stop_cluster


def _pids(cluster: Cluster) -> set[int]:
    pids = set()
    for process in cluster.processes:
        pids.add(process.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            pids.update(c.pid for c in psutil.Process(process.pid).children(recursive=True))
    return pids


_SHARED: list[Cluster] = []  # the module's cluster while it runs: its processes are not a test's leftovers


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two workers of two threads each: four tasks run at once."""
    running = start_cluster(tmp_path_factory.mktemp("dask"), workers=2, threads=2)
    _SHARED.append(running)
    yield running
    _SHARED.remove(running)
    stop_cluster(running)


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster for one test that kills a worker: two workers of one thread each."""
    running = start_cluster(tmp_path / "dask", workers=2, threads=1)
    yield running
    stop_cluster(running)


@pytest.fixture(autouse=True)
def no_children_left() -> Iterator[None]:
    """Every test leaves no process behind but the module's cluster, which its own fixture stops and checks (a
    test's own cluster is stopped before this looks)."""
    yield
    kept = {pid for shared in _SHARED for pid in _pids(shared)}
    me = psutil.Process()
    deadline = time.monotonic() + 2.0  # a just-killed child may take a moment
    while True:
        left = [c for c in me.children(recursive=True) if c.is_running() and c.pid not in kept]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    descriptions = [f"{c.pid} {c.name()} {c.status()}" for c in left]
    for child in left:
        child.kill()
    assert not left, f"child processes left behind: {descriptions}"

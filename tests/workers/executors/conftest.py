"""A real Dask cluster for the dask executor's tests: `dask scheduler` and two `dask worker` processes on
127.0.0.1, on ports they choose themselves (the scheduler writes its address to a scheduler file, which the
workers read). The fixture that starts a cluster stops it, and checks that none of its processes is left."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.servers import postgres_url, redis_url

__all__ = ["Cluster", "postgres_url", "redis_url"]

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [self.scheduler, *self.workers]

    def pids(self) -> set[int]:
        pids = set()
        for process in self.processes:
            pids.add(process.pid)
            with contextlib.suppress(psutil.NoSuchProcess):
                pids.update(c.pid for c in psutil.Process(process.pid).children(recursive=True))
        return pids


def _command(name: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; from distributed.cli.dask_{name} import main; sys.exit(main())"]


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=START_TIMEOUT_S) as client:
        client.wait_for_workers(count, timeout=START_TIMEOUT_S)


def start_cluster(folder: Path, workers: int = 2, threads: int = 1) -> Cluster:
    scheduler_file = folder / "scheduler.json"
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    common = ["--dashboard-address", ":0"]
    scheduler = subprocess.Popen(
        [*_command("scheduler"), "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(scheduler_file),
         "--no-show", *common],
        stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("wb"),
    )  # fmt: skip
    cluster = Cluster("", scheduler)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dask scheduler did not start: {(logs / 'scheduler.log').read_text()}")
            time.sleep(0.05)
        cluster.address = json.loads(scheduler_file.read_text())["address"]
        for n in range(workers):
            cluster.workers.append(
                subprocess.Popen(
                    [
                        *_command("worker"),
                        "--scheduler-file",
                        str(scheduler_file),
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        str(threads),
                        "--no-nanny",
                        "--name",
                        f"worker-{n + 1}",
                        *common,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=(logs / f"worker-{n + 1}.log").open("wb"),
                )
            )
        _wait_for_workers(cluster.address, workers)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    """Terminate, then kill, every process of the cluster; assert that none is left."""
    for process in reversed(cluster.processes):
        if process.poll() is None:
            process.terminate()
    for process in cluster.processes:
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
    assert all(p.poll() is not None for p in cluster.processes), "a dask process outlived its cluster"


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
    kept = {pid for shared in _SHARED for pid in shared.pids()}
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

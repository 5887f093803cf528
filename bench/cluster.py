"""A Dask cluster on this host for the benchmark and the tests: `dask scheduler` and `dask worker` processes on
127.0.0.1, on ports they choose themselves (the scheduler writes its address to a scheduler file, which the
workers read). A worker may be given a place of its own: a command its process runs under (`ip netns exec NS`)
and the address it listens on there. `stop_cluster` terminates, then kills, every one of them and checks that
none is left."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class Place(NamedTuple):
    """Where a worker runs: under `prefix` (nothing: this host as it is), listening on `host`."""

    prefix: tuple[str, ...] = ()
    host: str = "127.0.0.1"


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [self.scheduler, *self.workers]


def _command(name: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; from distributed.cli.dask_{name} import main; sys.exit(main())"]


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=START_TIMEOUT_S) as client:
        client.wait_for_workers(count, timeout=START_TIMEOUT_S)


def start_cluster(
    folder: Path, workers: int = 2, threads: int = 1, *, host: str = "127.0.0.1", places: Sequence[Place] = ()
) -> Cluster:
    """A scheduler listening on `host` and `workers` workers of `threads` threads each, at `places` (default:
    this host, on 127.0.0.1), every one connected."""
    places = list(places) or [Place()] * workers
    scheduler_file = folder / "scheduler.json"
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    common = ["--dashboard-address", ":0"]
    scheduler = subprocess.Popen(
        [*_command("scheduler"), "--host", host, "--port", "0", "--scheduler-file", str(scheduler_file),
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
        for n, place in enumerate(places):
            cluster.workers.append(
                subprocess.Popen(
                    [
                        *place.prefix,
                        *_command("worker"),
                        "--scheduler-file",
                        str(scheduler_file),
                        "--host",
                        place.host,
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
        _wait_for_workers(cluster.address, len(places))
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

"""The dask executor's costs, on a cluster of this host (bench.cluster) against Redis:

    python -m bench.dask [--buyers 20000] [--tasks 200] [--redis redis://127.0.0.1:6379/0]

1. per-task overhead: `--tasks` tasks that do nothing, submitted at once and gathered (what a task costs the
   scheduler, the network and the worker, with nothing to run);
2. Redis atomic, `--buyers` buyers, on the dask executor (2 workers of one thread: 2 tasks) and on the pool
   executor (2 workers), one after the other, each run timed end to end.

Prints one JSON line. Both executors race on one Redis server and this host's two cores, so the figures compare
the executors' overheads, not what many hosts would reach (see the README's note on scaling).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cluster import start_cluster, stop_cluster
from workers import SimulationConfig, run_simulation


def _nothing(n: int) -> int:
    return n


def task_overhead(address: str, tasks: int) -> dict[str, Any]:
    from distributed import Client

    with Client(address, timeout=10) as client:
        client.gather(client.map(_nothing, range(10), pure=False))  # warm: connections, the function shipped
        started = time.perf_counter()
        client.gather(client.map(_nothing, range(tasks), pure=False))
        elapsed = time.perf_counter() - started
    return {"tasks": tasks, "wall_s": round(elapsed, 4), "per_task_ms": round(elapsed * 1000 / tasks, 3)}


def atomic_run(executor: str, buyers: int, urls: dict[str, str], scheduler: str | None, folder: Path) -> dict[str, Any]:
    config = SimulationConfig(
        executor=executor,  # type: ignore[arg-type]
        workers=2,
        store="redis",
        strategy="atomic",
        buyers=buyers,
        tickets=buyers // 2,
        think_ms=0,
        hold_ms=0,
    )
    started = time.perf_counter()
    report = run_simulation(config, folder / executor, store_urls=urls, dask_scheduler=scheduler, time_limit_s=600)
    wall_s = time.perf_counter() - started
    r = report.result
    return {
        "executor": executor,
        "buyers": buyers,
        "wall_s": round(wall_s, 3),
        "run_ms": r.duration_ms,
        "buyers_per_second": round(buyers / wall_s),
        "sold": r.tickets_sold,
        "oversold": r.oversold,
        "errored": r.buyers_errored,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dask", description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    urls = {"redis": args.redis}
    with tempfile.TemporaryDirectory(prefix="ticketrush-bench-dask-") as name:
        folder = Path(name)
        cluster = start_cluster(folder / "cluster", workers=2, threads=1)
        try:
            overhead = task_overhead(cluster.address, args.tasks)
            dask = atomic_run("dask", args.buyers, urls, cluster.address, folder)
        finally:
            stop_cluster(cluster)
        pool = atomic_run("pool", args.buyers, urls, None, folder)
    json.dump({"task_overhead": overhead, "dask": dask, "pool": pool}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

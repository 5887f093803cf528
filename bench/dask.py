"""The dask executor's costs, on a cluster of this host (bench.cluster) against Redis:

    python -m bench.dask [--buyers 1000000] [--tasks 200] [--redis redis://127.0.0.1:6379/0]

1. per-task overhead: `--tasks` tasks that do nothing, submitted at once and gathered (what a task costs the
   scheduler, the network and the worker, with nothing to run);
2. per-run overhead: a run of 2 buyers on each executor (the client's connection, the clocks, the start line);
3. Redis atomic, `--buyers` buyers, on the dask executor (2 workers of one thread: 2 tasks) and on the pool
   executor (2 workers), one after the other, each run timed end to end, with the Redis server's CPU time per
   buyer (its INFO), which bounds what any number of hosts can sell through that one server, and on dask the
   CPU time per buyer of the scheduler (the records pass through it) and of the coordinator (this process).

Prints one JSON line. Both executors race on one Redis server and this host's two cores, so the figures compare
the executors' overheads, not what many hosts would reach (see the README's note on scaling).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import redis

from bench.cluster import start_cluster, stop_cluster
from workers import SimulationConfig, drop_store, run_simulation

FULL_BUYERS = 1_000_000
QUICK_BUYERS = 20_000
TIME_LIMIT_S = 1800.0


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


def _redis_cpu_s(url: str) -> float:
    """The Redis server's CPU seconds so far (user + system, its INFO)."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _cpu_s(process: psutil.Process | None) -> float:
    """CPU seconds (user + system) of `process`, or of this one."""
    if process is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    times = process.cpu_times()
    return float(times.user + times.system)


def atomic_run(
    executor: str, buyers: int, url: str, scheduler: str | None, folder: Path, scheduler_pid: int | None = None
) -> dict[str, Any]:
    config = SimulationConfig(
        executor=executor,  # type: ignore[arg-type]
        workers=2,
        store="redis",
        strategy="atomic",
        buyers=buyers,
        tickets=max(1, buyers // 2),
        think_ms=0,
        hold_ms=0,
    )
    run_dir, urls = folder / f"{executor}-{buyers}", {"redis": url}
    watched = {
        "redis": None,
        "coordinator": None,
        "scheduler": psutil.Process(scheduler_pid) if scheduler_pid else None,
    }
    cpu_before = {"redis": _redis_cpu_s(url), "coordinator": _cpu_s(None), "scheduler": _cpu_s(watched["scheduler"])}
    started = time.perf_counter()
    try:
        report = run_simulation(
            config, run_dir, store_urls=urls, dask_scheduler=scheduler, time_limit_s=TIME_LIMIT_S, pause_collector=True
        )
        wall_s = time.perf_counter() - started
        cpu_after = {"redis": _redis_cpu_s(url), "coordinator": _cpu_s(None), "scheduler": _cpu_s(watched["scheduler"])}
    finally:
        drop_store(config, run_dir, urls)
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
        "hosts": sorted({rec.host for rec in report.records if rec.host}),
        **{
            f"{name}_cpu_us_per_buyer": round((cpu_after[name] - cpu_before[name]) * 1e6 / buyers, 2)
            for name in cpu_before
            if name != "scheduler" or scheduler_pid
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dask", description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=FULL_BUYERS)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    url = args.redis
    with tempfile.TemporaryDirectory(prefix="ticketrush-bench-dask-") as name:
        folder = Path(name)
        cluster = start_cluster(folder / "cluster", workers=2, threads=1)
        try:
            overhead = task_overhead(cluster.address, args.tasks)
            small = {"dask": atomic_run("dask", 2, url, cluster.address, folder)}
            dask = atomic_run("dask", args.buyers, url, cluster.address, folder, cluster.scheduler.pid)
        finally:
            stop_cluster(cluster)
        small["pool"] = atomic_run("pool", 2, url, None, folder)
        pool = atomic_run("pool", args.buyers, url, None, folder)
    per_run = {name: row["wall_s"] for name, row in small.items()}
    json.dump({"task_overhead": overhead, "run_overhead_s": per_run, "dask": dask, "pool": pool}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

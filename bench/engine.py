"""One engine run, measured from outside: `run_simulation` timed end to end in a fresh process.

    python -m bench.engine --buyers 1000 --tickets 100 --lock process --executor process
    python -m bench.engine --buyers 1000 --tickets 100 --store memory --strategy seller --lock none
    python -m bench.engine --buyers 10000 --tickets 10000 --store redis --url redis://127.0.0.1:6379/0 \
        --strategy atomic --lock none --executor pool

Prints one JSON line: wall time (from the call to the report, launch and reaping included), the counts,
whether the run was correct (every buyer accounted for, no oversell, no lost update, no error), and the mean time
of a buyer's search (from its start to its decision to buy) and purchase (from there to its answer). A store on a
server (`--url`) has what the run left there dropped afterwards; `store_key` names it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workers import SimulationConfig, TicketrushError, drop_store, run_simulation
from workers.messages import BuyerRecord
from workers.stores import SERVER_STORES
from workers.stores.base import run_key


def _mean_us(spans: list[int]) -> float:
    return round(sum(spans) / len(spans) / 1000, 1) if spans else 0.0


def step_means(records: list[BuyerRecord]) -> dict[str, float]:
    """The mean search and purchase of the buyers who got an answer (a ticket or none left), in microseconds."""
    answered = [r for r in records if r.outcome in ("success", "sold_out")]
    searches = [r.t_searched - r.t_start for r in answered if r.t_searched is not None and r.t_start is not None]
    purchases = [r.t_end - r.t_searched for r in answered if r.t_end is not None and r.t_searched is not None]
    return {"search_mean_us": _mean_us(searches), "purchase_mean_us": _mean_us(purchases)}


def measure(config: SimulationConfig, folder: Path, url: str | None = None) -> dict[str, Any]:
    run_dir = folder / "run"
    urls: dict[str, str] | None = {config.store: url} if url else None
    started = time.perf_counter()
    try:
        report = run_simulation(config, run_dir, time_limit_s=600, store_urls=urls)
        wall_s = time.perf_counter() - started
    finally:
        if config.store in SERVER_STORES and urls:
            drop_store(config, run_dir, urls)
    r = report.result
    exact = r.buyers_succeeded == min(config.buyers, config.tickets) and r.buyers_errored == 0
    return {
        "buyers": config.buyers,
        "tickets": config.tickets,
        "store": config.store,
        "strategy": config.strategy,
        "lock": config.lock,
        "executor": config.executor,
        "workers": report.config.workers,
        "wall_s": round(wall_s, 4),
        "run_ms": r.duration_ms,
        "errored": r.buyers_errored,
        "handed_out": r.tickets_handed_out,
        "sold": r.tickets_sold,
        "remaining": r.tickets_remaining,
        "oversold": r.oversold,
        "lost_updates": r.lost_updates,
        "safe": r.safe,
        "sales_per_second": r.sales_per_second,
        "purchase_p50_ms": r.purchase_p50_ms,
        "purchase_p95_ms": r.purchase_p95_ms,
        "retries": r.retries,
        "correct": r.safe and exact,
        **step_means(report.records),
        "store_key": run_key(run_dir) if urls else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--store", default="file")
    parser.add_argument("--strategy", default="read-write")
    parser.add_argument("--lock", default="process")
    parser.add_argument("--permits", type=int)
    parser.add_argument("--executor", choices=("process", "pool"), default="process")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--url", help="the server of a store that lives on one (postgres, redis)")
    parser.add_argument("--staggered", action="store_true", help="start buyers as they are created")
    parser.add_argument("--dir", help="where the run's folder goes (default: the system's temporary folder)")
    args = parser.parse_args(argv)
    config = SimulationConfig(
        buyers=args.buyers,
        tickets=args.tickets,
        store=args.store,
        strategy=args.strategy,
        lock=args.lock,
        permits=args.permits,
        executor=args.executor,
        workers=args.workers,
        think_ms=0.0,
        hold_ms=0.0,
        together=not args.staggered,
    )
    with tempfile.TemporaryDirectory(prefix="ticketrush-bench-", dir=args.dir) as folder:
        try:
            result = measure(config, Path(folder), args.url)
        except TicketrushError as e:
            print(json.dumps({"failed": f"{type(e).__name__}: {e}"}))
            return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

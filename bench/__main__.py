"""`python -m bench [--quick] [--runs N] [--dir PATH]`: run every section, print the table, write results.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.native import NATIVE_TOOLS, left_behind, server_urls
from bench.procs import ROOT, median, run_module
from bench.report import Goal, Table, load_average, machine
from workers.support import STRATEGIES_BY_STORE, cures

RESULTS = ROOT / "bench" / "results.json"
LESSON = "lesson (Process + Lock)"
PROCESS = "engine, process executor"
STAGGERED = "engine, process executor, no start line"
POOL = "engine, pool executor"


@dataclass(frozen=True)
class Sizes:
    """How big each section's runs are: the issue's sizes, or a reduced set for --quick."""

    buyers: int  # sections 1, 3a, 3c, 4 and 5
    flash_buyers: int  # section 2
    process_growth: tuple[int, ...]
    pool_growth: tuple[int, ...]
    runs: int
    experiment: tuple[int, int] = (3, 5)  # section 7: values x trials
    native: tuple[int, int] = (5_000, 3)  # section 9: buyers (and tickets, and the tools' sales) x rounds


FULL = Sizes(1000, 100_000, (10, 100, 1000), (10, 100, 1000, 10_000, 100_000), runs=5)
QUICK = Sizes(100, 10_000, (10, 100), (10, 1000, 10_000), runs=2, experiment=(2, 2), native=(200, 1))
EXPERIMENT_RUN = {"buyers": 2, "tickets": 1, "think_ms": 0}  # small runs, so that what is around them shows


def tickets(buyers: int) -> int:
    return max(1, buyers // 10)


def engine(
    buyers: int,
    lock: str,
    executor: str,
    folder: str | None,
    *,
    staggered: bool = False,
    store: str = "file",
    strategy: str = "read-write",
    stock: int | None = None,
    workers: int | None = None,
    url: str | None = None,
) -> tuple[str, list[str]]:
    stock = tickets(buyers) if stock is None else stock
    args = ["--buyers", str(buyers), "--tickets", str(stock), "--lock", lock, "--executor", executor]
    args += ["--store", store, "--strategy", strategy]
    if staggered:
        args.append("--staggered")
    if workers is not None:
        args += ["--workers", str(workers)]
    if url is not None:
        args += ["--url", url]
    return "bench.engine", [*args, "--dir", folder] if folder else args


def lesson(buyers: int, folder: str | None) -> tuple[str, list[str]]:
    args = ["--buyers", str(buyers), "--tickets", str(tickets(buyers)), "--lock"]
    return "bench.lesson", [*args, "--dir", folder] if folder else args


def interleaved(variants: dict[str, tuple[str, list[str]]], runs: int) -> dict[str, list[dict[str, Any]]]:
    """Run every variant `runs` times, round robin, so that a noisy moment hits them all alike."""
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, (module, args) in variants.items():
            samples[name].append(run_module(module, args))
            print(".", end="", file=sys.stderr, flush=True)
    return samples


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians of one variant's runs (and the raw walls, to show the spread)."""
    walls = [r["wall_s"] for r in runs]
    return {
        "wall_s": median(walls),
        "walls": walls,
        "cpu_s": median([r["cpu_s"] for r in runs]),
        "page_faults": median([r["page_faults"] for r in runs]),
        "errored": median([r["errored"] for r in runs]),
        "errored_max": max(r["errored"] for r in runs),
        "sales_per_s": median([r["sold"] / r["wall_s"] for r in runs]),
        "oversold": median([r["oversold"] for r in runs]),
        "lost_updates": median([r["lost_updates"] for r in runs]),
        "correct_runs": sum(1 for r in runs if r.get("correct", r["safe"]) and not r["errored"]),
        "runs": len(runs),
    }


def lesson_vs_engine(sizes: Sizes, folder: str | None) -> tuple[dict[str, Any], Table]:
    n = sizes.buyers
    samples = interleaved(
        {
            LESSON: lesson(n, folder),
            PROCESS: engine(n, "process", "process", folder),
            STAGGERED: engine(n, "process", "process", folder, staggered=True),
            POOL: engine(n, "process", "pool", folder),
        },
        sizes.runs,
    )
    rows = {name: summarise(runs) for name, runs in samples.items()}
    baseline = rows[LESSON]["wall_s"]
    table = Table(
        f"1. The lesson's way vs the engine: {n:,} buyers, {tickets(n):,} tickets, process lock, zero delays",
        ["", "wall s", "min-max", "CPU s", "faults k", "errored (max)", "x lesson", "correct"],
    )
    for name, row in rows.items():
        row["ratio"] = row["wall_s"] / baseline
        table.add(
            name,
            f"{row['wall_s']:.2f}",
            f"{min(row['walls']):.2f}-{max(row['walls']):.2f}",
            f"{row['cpu_s']:.2f}",
            f"{row['page_faults'] / 1000:,.0f}",
            f"{row['errored']:g} ({row['errored_max']})",
            f"{row['ratio']:.2f}",
            f"{row['correct_runs']}/{row['runs']}",
        )
    table.note("errored: buyers that crashed (the lesson's: JSONDecodeError on a half-written db) or failed")
    table.note("CPU s, faults k: CPU time and thousands of page faults of the run's whole process tree")
    table.note("correct: every buyer accounted for, none oversold")
    table.note("no start line: together=false, each buyer starts as soon as it is forked, as the lesson's buyers do")
    return {"buyers": n, "tickets": tickets(n), "rows": rows}, table


def flash_sale(sizes: Sizes, folder: str | None) -> tuple[dict[str, Any], Table, list[dict[str, Any]]]:
    n = sizes.flash_buyers
    samples = interleaved({lock: engine(n, lock, "pool", folder) for lock in ("none", "process", "file")}, sizes.runs)
    rows = {lock: summarise(runs) for lock, runs in samples.items()}
    table = Table(
        f"2. Flash sale: pool executor (one worker per CPU), {n:,} buyers, {tickets(n):,} tickets, zero delays",
        ["lock", "wall s", "min-max", "CPU s", "sales/s", "oversold", "lost updates", "correct"],
    )
    for lock, row in rows.items():
        table.add(
            lock,
            f"{row['wall_s']:.2f}",
            f"{min(row['walls']):.2f}-{max(row['walls']):.2f}",
            f"{row['cpu_s']:.2f}",
            f"{row['sales_per_s']:,.0f}",
            f"{row['oversold']:,.0f}",
            f"{row['lost_updates']:,.0f}",
            f"{row['correct_runs']}/{row['runs']}",
        )
    table.note("sales/s: tickets that really left the db per second of wall time (start-up and reaping included)")
    return {"buyers": n, "tickets": tickets(n), "rows": rows}, table, samples["file"]


def lock_costs(sizes: Sizes, folder: str | None) -> tuple[dict[str, Any], Table]:
    n = sizes.buyers
    samples = interleaved(
        {lock: engine(n, lock, "process", folder) for lock in ("none", "process", "file")}, sizes.runs
    )
    rows = {lock: summarise(runs) for lock, runs in samples.items()}
    table = Table(
        f"3a. What a lock costs: process executor, {n:,} buyers, {tickets(n):,} tickets, zero delays",
        ["lock", "wall s", "sales/s", "oversold", "lost updates", "correct"],
    )
    for lock, row in rows.items():
        table.add(
            lock,
            f"{row['wall_s']:.2f}",
            f"{row['sales_per_s']:,.0f}",
            f"{row['oversold']:,.0f}",
            f"{row['lost_updates']:,.0f}",
            f"{row['correct_runs']}/{row['runs']}",
        )
    table.note("the pool's figures for the three locks are in section 2")
    return {"buyers": n, "rows": rows}, table


# The stores of section 6. Not yet sqlite, postgres and redis: the stores on a server need their URLs, and are to
# be measured beside their own tools (pgbench, redis-benchmark).
BENCHED_STORES = ("file", "memory")


def every_cure(sizes: Sizes, folder: str | None) -> tuple[dict[str, Any], Table]:
    """Every strategy on each of BENCHED_STORES it runs on, at the process executor's and the pool's sizes, in one
    run."""
    sizes_by_executor = {"process": sizes.buyers, "pool": sizes.flash_buyers}
    variants = {
        f"{store} {cure.name} {executor}": engine(n, cure.lock, executor, folder, store=store, strategy=cure.strategy)
        for executor, n in sizes_by_executor.items()
        for store in STRATEGIES_BY_STORE
        if store in BENCHED_STORES
        for cure in cures(store)
    }
    samples = interleaved(variants, max(1, sizes.runs // 2))
    table = Table(
        f"6. Every cure: {sizes.buyers:,} process buyers and {sizes.flash_buyers:,} pool buyers, "
        "tickets = buyers / 10, zero delays",
        ["store", "cure", "executor", "sales/s", "purchase p50 ms", "p95 ms", "oversold", "retries", "correct"],
    )
    rows = {}
    for name, runs in samples.items():
        store, cure_name, executor = name.split(" ")
        row = {
            "store": store,
            "cure": cure_name,
            "executor": executor,
            "sales_per_second": median([r["sales_per_second"] for r in runs]),
            "purchase_p50_ms": median([r["purchase_p50_ms"] for r in runs]),
            "purchase_p95_ms": median([r["purchase_p95_ms"] for r in runs]),
            "oversold": median([r["oversold"] for r in runs]),
            "retries": median([r["retries"] for r in runs]),
            "correct_runs": sum(1 for r in runs if r["correct"]),
            "runs": len(runs),
        }
        rows[name] = row
        table.add(
            store,
            cure_name,
            executor,
            f"{row['sales_per_second']:,.0f}",
            f"{row['purchase_p50_ms']:.2f}",
            f"{row['purchase_p95_ms']:.2f}",
            f"{row['oversold']:,.0f}",
            f"{row['retries']:,.0f}",
            f"{row['correct_runs']}/{row['runs']}",
        )
    table.note("sales/s: tickets that left the store per second of the race (the result's sales_per_second)")
    table.note("purchase: from a buyer's decision to buy (after its search) to its answer: lock wait or queue included")
    table.note(
        "correct: every buyer accounted for, none oversold; the uncured race (read-write/none) is not meant to be"
    )
    return {"rows": rows}, table


def growth(sizes: Sizes, folder: str | None, flash_file_runs: list[dict[str, Any]]) -> tuple[dict[str, Any], Table]:
    variants = {f"process {n}": engine(n, "file", "process", folder) for n in sizes.process_growth}
    variants |= {f"pool {n}": engine(n, "file", "pool", folder) for n in sizes.pool_growth if n != sizes.flash_buyers}
    samples = interleaved(variants, sizes.runs)
    if sizes.flash_buyers in sizes.pool_growth:
        samples[f"pool {sizes.flash_buyers}"] = flash_file_runs  # the same config as section 2's file lock
    table = Table(
        "3b. How cost grows: wall time per buyer, file lock, tickets = buyers / 10, zero delays",
        ["executor", "buyers", "wall s", "us per buyer"],
    )
    rows = []
    for executor, counts in (("process", sizes.process_growth), ("pool", sizes.pool_growth)):
        for n in counts:
            seconds = median([r["wall_s"] for r in samples[f"{executor} {n}"]])
            rows.append({"executor": executor, "buyers": n, "wall_s": seconds, "us_per_buyer": seconds / n * 1e6})
            table.add(executor, f"{n:,}", f"{seconds:.3f}", f"{seconds / n * 1e6:,.0f}")
    table.note("wall time includes starting and reaping the processes, so small runs show the fixed cost")
    return {"rows": rows}, table


def api_under_load(sizes: Sizes, quick: bool) -> tuple[dict[str, Any], Table, dict[str, Any]]:
    from bench.server import Server, measure_api, measure_run_memory

    n = sizes.buyers
    paces = {"every 0.5 s": 0.5} if quick else {"every 0.5 s": 0.5, "flat out": None}
    with Server() as server:
        loads = {label: measure_api(server, n, pace_s=pace) for label, pace in paces.items()}
        memory = measure_run_memory(server, n)
    table = Table(
        f"4. The API under load: 50 concurrent clients while a {n:,}-buyer process-executor run goes "
        "(process lock, zero delays)",
        ["request", "each client", "requests", "per s", "p50 ms", "p99 ms", "errors"],
    )
    for label, data in loads.items():
        get, post = data["get"], data["post"]
        table.add(
            "GET /simulations/{id}",
            label,
            f"{get['count']:,}",
            f"{data['get_per_s']:,.0f}",
            f"{get['p50_ms']:.1f}",
            f"{get['p99_ms']:.1f}",
            str(data["http_errors"]),
        )
        table.add(
            "POST /simulations", label, f"{post['count']:,}", "", f"{post['p50_ms']:.1f}", f"{post['p99_ms']:.1f}", ""
        )
        table.note(
            f"{label}: the run took {data['run_s']:.1f} s, {data['run_status']}, {data['run_errored']} buyers errored"
        )
    table.note("POST: the run's own, then a 2-buyer simulation every 0.5 s while it goes (few samples: p99 ~ max)")
    return {"buyers": n, **loads}, table, memory


def experiment_overhead(sizes: Sizes) -> tuple[dict[str, Any], Table]:
    """An experiment against the same runs posted one after another by a client that waits for each."""
    from bench.server import Server, experiment_vs_runs

    values, trials = sizes.experiment
    with Server() as server:
        measured = experiment_vs_runs(server, EXPERIMENT_RUN, values, trials)
    table = Table(
        f"7. What an experiment adds over its runs: {values} values of hold_ms x {trials} trials of "
        f"{EXPERIMENT_RUN['buyers']} buyers, zero think time",
        ["", "wall s", "in runs s", "between runs ms (median)", "per run ms over the runs"],
    )
    for name, label in (
        ("experiment", "POST /experiments"),
        ("runs", "the same runs, one POST /simulations at a time"),
    ):
        row = measured[name]
        table.add(
            label,
            f"{row['wall_s']:.2f}",
            f"{row['in_runs_s']:.2f}",
            f"{row['gap_p50_ms']:.0f}",
            f"{(row['wall_s'] - row['in_runs_s']) / row['runs'] * 1000:.0f}",
        )
    table.note(
        "in runs: the trials' own time, started_at to finished_at; between runs: one finished to the next started"
    )
    table.note(
        f"reading it: GET /experiments/{{id}} p50 {measured['get_experiment_p50_ms']:.1f} ms for {values * trials} "
        f"trials, GET /simulations/{{id}} p50 {measured['get_simulation_p50_ms']:.1f} ms"
    )
    return {"values": values, "trials": trials, **measured}, table


def memory_use(sizes: Sizes, folder: str | None, server: dict[str, Any]) -> tuple[dict[str, Any], Table]:
    n = sizes.buyers
    rows = {"server + run process + buyers": server}
    for name, (module, args) in ((LESSON, lesson(n, folder)), (PROCESS, engine(n, "process", "process", folder))):
        rows[name] = run_module(module, args, memory=True)
    table = Table(
        f"5. Memory: peak total PSS of the process tree during one {n:,}-buyer run (process lock, zero delays)",
        ["tree", "peak PSS MiB", "processes then", "MiB per process"],
    )
    for name, row in rows.items():
        mib, count = row["peak_pss_mib"], row["processes_at_peak"]
        table.add(name, f"{mib:,.1f}", f"{count:,}", f"{mib / max(count, 1):.2f}")
    table.note("sampled about every 50 ms; PSS shares each page among the processes that map it, so sums add up")
    table.note("the engine holds every buyer at the start line, so all are alive at once; the lesson's come and go")
    return {"buyers": n, "rows": rows}, table


def buyer_process_cost(sizes: Sizes, lesson_wall_s: float) -> tuple[dict[str, Any], Table]:
    n = sizes.buyers
    costs = run_module("bench.forkcost", ["--forks", str(n)])
    table = Table(
        f"3c. Where a buyer process's time goes: {n:,} processes per row, started and joined one at a time",
        ["process", "parent CPU ms", "child CPU ms", "child page faults", "total ms"],
    )
    for label, row in costs.items():
        if isinstance(row, dict):
            row["total_ms"] = round(row["parent_ms"] + row["child_ms"], 3)
            table.add(
                label,
                f"{row['parent_ms']:.2f}",
                f"{row['child_ms']:.2f}",
                str(row["child_faults"]),
                f"{row['total_ms']:.2f}",
            )
    cpus = os.cpu_count() or 1
    floor_s = costs["os.fork + os._exit"]["total_ms"] * n / 1000 / cpus
    table.note("each row adds a step: see bench/forkcost.py; the parent's share includes the join")
    table.note(
        f"forking and exiting {n:,} Python processes alone takes at least {floor_s:.2f} s on {cpus} CPUs; "
        f"0.5x the lesson is {lesson_wall_s / 2:.2f} s"
    )
    return {"processes": n, "cpus": cpus, "fork_exit_floor_s": round(floor_s, 3), **costs}, table


def dask_executor(quick: bool) -> tuple[dict[str, Any], Table]:
    """Section 8: the dask executor (a scheduler and 2 workers of one thread on this host) beside the pool of 2
    on one Redis server, Redis atomic; what a task and a run cost it; Redis's CPU per buyer, the shared ceiling."""
    from bench.dask import FULL_BUYERS, QUICK_BUYERS, TIME_LIMIT_S

    n = QUICK_BUYERS if quick else FULL_BUYERS
    url = server_urls()["redis"]
    data = run_module("bench.dask", ["--buyers", str(n), "--redis", url], timeout_s=2 * TIME_LIMIT_S)
    table = Table(
        f"8. Past one host: {n:,} buyers, {n // 2:,} tickets, Redis atomic, 2 workers: dask beside the pool",
        ["executor", "wall s", "start line to last record s", "buyers/s", "sold", "oversold", "errored",
         "Redis CPU us/buyer"],
    )  # fmt: skip
    for name in ("dask", "pool"):
        row = data[name]
        table.add(
            name,
            f"{row['wall_s']:.2f}",
            f"{row['run_ms'] / 1000:.2f}",
            f"{row['buyers_per_second']:,}",
            f"{row['sold']:,}",
            str(row["oversold"]),
            str(row["errored"]),
            f"{row['redis_cpu_us_per_buyer']:.1f}",
        )
    task, per_run = data["task_overhead"], data["run_overhead_s"]
    table.note(f"a dask task that does nothing: {task['per_task_ms']:.2f} ms ({task['tasks']} at once)")
    table.note(f"a run of 2 buyers, end to end: dask {per_run['dask']:.2f} s, pool {per_run['pool']:.2f} s")
    ceiling = 1e6 / max(data["dask"]["redis_cpu_us_per_buyer"], 0.01)
    table.note(
        f"one Redis server, single-threaded, at {data['dask']['redis_cpu_us_per_buyer']:.1f} us of CPU a buyer, sells "
        f"at most ~{ceiling:,.0f} a second whatever the number of hosts (its CPU counts every client it had)"
    )
    dask = data["dask"]
    table.note(
        f"on dask each buyer's record costs the scheduler {dask['scheduler_cpu_us_per_buyer']:.1f} us of CPU and "
        f"the coordinator {dask['coordinator_cpu_us_per_buyer']:.1f} us (the pool's coordinator: "
        f"{data['pool']['coordinator_cpu_us_per_buyer']:.1f} us): ceilings of ~"
        f"{1e6 / max(dask['scheduler_cpu_us_per_buyer'], 0.01):,.0f} and "
        f"~{1e6 / max(dask['coordinator_cpu_us_per_buyer'], 0.01):,.0f} buyers a second"
    )
    return data, table


NATIVE_STORES = ("sqlite", "postgres", "redis")
# What an atomic buyer sends its store: its search, then its purchase (the one step the native tool runs).
ATOMIC_STEPS = {"postgres": ("SELECT count", "the UPDATE"), "redis": ("GET", "EVALSHA")}
NATIVE_GOAL = 0.5  # the atomic strategy's sales per second at least this share of the native tool's
ONLY = ("wait", "dask", "native")  # the sections that can run alone (they need no other's figures)
FIXED_GOAL_S = 0.1  # a run's cost outside its race, POST to completed
PROCESS_GOAL = 0.8  # 1,000 process buyers, POST to completed, at most this share of the lesson's wall time
FLASH_GOALS_S = {100_000: 1.5, 1_000_000: 10.0}  # pool buyers, POST to completed


def user_wait(sizes: Sizes, quick: bool) -> tuple[dict[str, Any], Table]:
    """Section 0: what a user waits, POST to completed through a real server, beside the lesson and the floor."""
    data = run_module("bench.wait", ["--runs", str(sizes.runs), *(["--quick"] if quick else [])], timeout_s=1800)
    table = Table(
        "0. The user's wait: POST /simulations to completed (polled every 20 ms), beside the lesson and the floor",
        [
            "run",
            "POST to completed s",
            "race s",
            "outside the race s",
            "before s",
            "rest s",
            "lesson s",
            "floor s",
            "oversold",
            "CSV first byte / all s",
        ],
    )
    lesson10, lesson1000, floor = data["lesson_10_own"], data["process_1000_lesson"], data["process_1000_floor"]
    rows = [
        ("1,000 pool buyers, file lock, zero delays, server at rest", data["fixed"], None, None),
        ("the same, posted as the one before it ends", data["fixed_back_to_back"], None, None),
        ("10 buyers, the lesson's delays, process lock", data["lesson_10"], lesson10, None),
        ("1,000 process buyers, file lock, zero delays", data["process_1000"], lesson1000, floor),
    ]
    rows += [(f"{n:,} pool buyers, file lock, zero delays", data[f"pool_{n}"], None, None) for n in sizes_of(data)]
    for label, row, lesson, bare in rows:
        table.add(
            label,
            f"{row['wait_s']:.3f}",
            f"{row['race_s']:.3f}",
            f"{row['outside_s']:.3f}",
            f"{row['setup_s']:.3f}",
            f"{row['rest_s']:.3f}",
            f"{lesson['wait_s']:.3f}" if lesson else "",
            f"{bare['wait_s']:.3f}" if bare else "",
            str(int(row["oversold"])),
            f"{row['csv_first_byte_s']:.3f} / {row['csv_s']:.3f}" if "csv_s" in row else "",
        )
    table.note("before: the run's start to the buyers' release (the store prepared, the buyers forked: setup_ms)")
    table.note("rest: the POST handed to a run process, then after the race the analysis, the records saved, the poll")
    table.note("lesson: the lesson's own code (bench/lesson.py) with as many buyers, start to exit of its process")
    table.note("floor: forking and reaping as many bare processes from `python -S` (bench/floor.py)")
    table.note("CSV: GET /simulations/{id}/buyers?format=csv once completed, to its first byte and to its last")
    return data, table


def sizes_of(wait: dict[str, Any]) -> list[int]:
    return sorted(int(name.removeprefix("pool_")) for name in wait if name.startswith("pool_"))


def wait_goals(wait: dict[str, Any], judged: Callable[[bool], bool | None]) -> list[Goal]:
    fixed, process, lesson = wait["fixed"], wait["process_1000"], wait["process_1000_lesson"]
    ratio = process["wait_s"] / lesson["wait_s"]
    goals = [
        Goal(
            f"a run's fixed cost at most {FIXED_GOAL_S} s (1,000 pool buyers, POST to completed minus the race)",
            f"{fixed['outside_s']:.3f} s at rest, {wait['fixed_back_to_back']['outside_s']:.3f} s back to back",
            judged(fixed["outside_s"] <= FIXED_GOAL_S),
        ),
        Goal(
            f"1,000 process buyers at most {PROCESS_GOAL}x the lesson's wall time, POST to completed",
            f"{ratio:.2f}x ({process['wait_s']:.2f} s vs {lesson['wait_s']:.2f} s; floor "
            f"{wait['process_1000_floor']['wait_s']:.2f} s)",
            judged(ratio <= PROCESS_GOAL),
        ),
    ]
    for n in sizes_of(wait):
        row, goal = wait[f"pool_{n}"], FLASH_GOALS_S.get(n)
        if goal is not None:
            goals.append(
                Goal(
                    f"{n:,} pool buyers at most {goal:g} s, POST to completed, none oversold",
                    f"{row['wait_s']:.2f} s (race {row['race_s']:.2f} s), {int(row['oversold'])} oversold",
                    judged(row["wait_s"] <= goal and row["oversold"] == 0),
                )
            )
    return goals


def beside_native_tools(sizes: Sizes, folder: str | None) -> tuple[dict[str, Any], Table]:
    """Section 9: every cure of the SQLite, PostgreSQL and Redis stores on the pool executor, one ticket per buyer,
    and each server's own tool running the atomic strategy's step as many times with as many clients, in turn."""
    n, rounds = sizes.native
    clients = os.cpu_count() or 1  # the pool's default: one worker per CPU, each with one connection
    urls = server_urls()
    variants: dict[str, tuple[str, list[str]]] = {}
    for store in NATIVE_STORES:
        for cure in cures(store):
            variants[f"{store} {cure.name}"] = engine(
                n, cure.lock, "pool", folder, store=store, strategy=cure.strategy, stock=n, workers=clients,
                url=urls.get(store),
            )  # fmt: skip
            if cure.strategy == "atomic" and store in NATIVE_TOOLS:  # the tool right after: the same moment
                tool_args = [NATIVE_TOOLS[store], "--url", urls[store], "--clients", str(clients), "--sales", str(n)]
                variants[f"{store} {NATIVE_TOOLS[store]}"] = ("bench.native", tool_args)
    samples = interleaved(variants, rounds)
    keys: dict[str, list[str]] = {store: [] for store in NATIVE_TOOLS}
    for name, runs in samples.items():
        store = name.split(" ")[0]
        keys.get(store, []).extend(r["store_key"] for r in runs if r.get("store_key"))
    tools: dict[str, dict[str, Any]] = {
        store: {
            "tool": tool,
            "tps": median([r["tps"] for r in samples[f"{store} {tool}"]]),
            "tps_runs": [r["tps"] for r in samples[f"{store} {tool}"]],
            "sold": median([r["sold"] for r in samples[f"{store} {tool}"]]),
            "transactions": median([r["transactions"] for r in samples[f"{store} {tool}"]]),
        }
        for store, tool in NATIVE_TOOLS.items()
    }
    rows: dict[str, dict[str, Any]] = {}
    for name, runs in samples.items():
        store, cure_name = name.split(" ")
        if cure_name in NATIVE_TOOLS.values():
            continue
        row: dict[str, Any] = {
            "store": store,
            "cure": cure_name,
            "sales_per_second": median([r["sales_per_second"] for r in runs]),
            "sales_per_second_runs": [r["sales_per_second"] for r in runs],
            "oversold": median([r["oversold"] for r in runs]),
            "lost_updates": median([r["lost_updates"] for r in runs]),
            "retries": median([r["retries"] for r in runs]),
            "search_mean_us": median([r["search_mean_us"] for r in runs]),
            "purchase_mean_us": median([r["purchase_mean_us"] for r in runs]),
            "correct_runs": sum(1 for r in runs if r["correct"]),
            "runs": len(runs),
        }
        if cure_name == "atomic" and store in tools:
            row["tool"] = tools[store]["tool"]
            row["tool_tps"] = tools[store]["tps"]
            row["ratio"] = row["sales_per_second"] / tools[store]["tps"]
        rows[name] = row
    left = left_behind(urls, keys)
    table = Table(
        f"9. The stores beside their servers' own tools: {n:,} buyers and {n:,} tickets, pool executor of {clients} "
        f"workers, zero delays; the tool: {n:,} sales by {clients} clients; "
        + (f"median of {rounds} rounds" if rounds > 1 else "one round"),
        ["store", "cure", "sales/s", "min-max", "oversold", "lost updates", "retries", "correct", "tool", "tool tps",
         "x tool"],
    )  # fmt: skip
    for row in rows.values():
        spread = row["sales_per_second_runs"]
        table.add(
            row["store"],
            row["cure"],
            f"{row['sales_per_second']:,.0f}",
            f"{min(spread):,.0f}-{max(spread):,.0f}",
            f"{row['oversold']:,.0f}",
            f"{row['lost_updates']:,.0f}",
            f"{row['retries']:,.0f}",
            f"{row['correct_runs']}/{row['runs']}",
            row.get("tool", ""),
            f"{row['tool_tps']:,.0f}" if "tool_tps" in row else "",
            f"{row['ratio']:.2f}" if "ratio" in row else "",
        )
    table.note(
        "a ticket for every buyer and for every tool transaction: neither side runs out, so every answer is a sale; "
        "no seat can be oversold then, and a race shows as lost updates (tickets handed out the count never lost)"
    )
    table.note(
        "pgbench: the store's conditional UPDATE as its script, prepared, one thread per client; redis-benchmark: "
        "EVALSHA of the store's Lua script, no pipelining; each on a table or key of its own, dropped after"
    )
    for store, (search, take) in ATOMIC_STEPS.items():
        row = rows[f"{store} atomic"]
        per_sale = clients * 1e6 / row["sales_per_second"] if row["sales_per_second"] else 0.0
        rest = per_sale - row["search_mean_us"] - row["purchase_mean_us"]
        tool = tools[store]
        table.note(
            f"{store} atomic: a sale takes a worker {per_sale:,.0f} us: {row['search_mean_us']:,.0f} us its search "
            f"({search}), {row['purchase_mean_us']:,.0f} us its purchase ({take}), {rest:,.0f} us the rest (its "
            f"record, the pipe, the next buyer); {tool['tool']}: {clients * 1e6 / tool['tps']:,.0f} us a "
            f"transaction per client, {min(tool['tps_runs']):,.0f}-{max(tool['tps_runs']):,.0f} a second"
        )
    table.note(f"left on the servers after the section: {', '.join(left) if left else 'nothing'}")
    data = {"buyers": n, "clients": clients, "rounds": rounds, "rows": rows, "tools": tools, "store_keys": keys,
            "left_behind": left}  # fmt: skip
    return data, table


def lesson_goals(sizes: Sizes, results: dict[str, Any], judged: Callable[[bool], bool | None]) -> list[Goal]:
    first = results["lesson_vs_engine"]["rows"]
    process = first[PROCESS]
    flash = results["flash_sale"]["rows"]["file"]
    return [
        Goal(
            f"process executor at most 0.5x the lesson's wall time, 0 errored ({sizes.buyers:,} buyers)",
            f"{process['ratio']:.2f}x ({process['wall_s']:.2f} s vs {first[LESSON]['wall_s']:.2f} s), "
            f"{process['errored_max']} errored at most",
            judged(process["ratio"] <= 0.5 and process["errored_max"] == 0),
        ),
        Goal(
            f"pool executor, file lock, {sizes.flash_buyers:,} buyers in at most 2 s",
            f"{flash['wall_s']:.2f} s, {flash['correct_runs']}/{flash['runs']} correct",
            judged(flash["wall_s"] <= 2.0 and flash["correct_runs"] == flash["runs"]),
        ),
    ]


def native_goals(native: dict[str, Any], judged: Callable[[bool], bool | None]) -> list[Goal]:
    goals = []
    for store, tool in NATIVE_TOOLS.items():
        row = native["rows"][f"{store} atomic"]
        goals.append(
            Goal(
                f"{store} atomic at least {NATIVE_GOAL}x {tool}'s transactions per second "
                f"({native['buyers']:,} sales, {native['clients']} clients each), every run correct",
                f"{row['ratio']:.2f}x ({row['sales_per_second']:,.0f} vs {row['tool_tps']:,.0f} a second), "
                f"{row['correct_runs']}/{row['runs']} correct",
                judged(row["ratio"] >= NATIVE_GOAL and row["correct_runs"] == row["runs"]),
            )
        )
    return goals


def judge(sizes: Sizes, quick: bool, results: dict[str, Any]) -> list[Goal]:
    """The goals of the sections that ran (every one, or the one --only names)."""
    api = results.get("api")

    def judged(ok: bool) -> bool | None:
        return None if quick else ok

    goals = lesson_goals(sizes, results, judged) if "lesson_vs_engine" in results else []
    if api is not None:
        for label in ("every 0.5 s", "flat out"):
            if label not in api:
                continue
            data = api[label]
            worst = max(data["get"]["p99_ms"], data["post"]["p99_ms"])
            goals.append(
                Goal(
                    f"API p99 at most 50 ms, 50 clients polling {label}",
                    f"GET p99 {data['get']['p99_ms']:.1f} ms, POST p99 {data['post']['p99_ms']:.1f} ms",
                    judged(worst <= 50.0),
                )
            )
    if "wait" in results:
        goals += wait_goals(results["wait"], judged)
    if "native" in results:
        goals += native_goals(results["native"], judged)
    return goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and two runs per figure (for CI)")
    parser.add_argument("--runs", type=int, help="runs per figure (default: 5, or 2 with --quick)")
    parser.add_argument("--dir", help="where run folders go (default: the system's temporary folder)")
    parser.add_argument("--no-api", action="store_true", help="skip the sections that start the HTTP server")
    parser.add_argument("--only", choices=ONLY, help="run this section alone: " + ", ".join(ONLY))
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = replace(sizes, runs=args.runs, native=(sizes.native[0], args.runs))
    started = time.monotonic()
    load_before = load_average()
    results: dict[str, Any] = {}
    tables: list[Table] = []
    if args.only in (None, "wait") and not args.no_api:
        results["wait"], table = user_wait(sizes, args.quick)
        tables.append(table)
    if args.only is None:
        results["lesson_vs_engine"], table = lesson_vs_engine(sizes, args.dir)
        tables.append(table)
        results["flash_sale"], table, flash_file_runs = flash_sale(sizes, args.dir)
        tables.append(table)
        results["lock_costs"], table = lock_costs(sizes, args.dir)
        tables.append(table)
        results["growth"], table = growth(sizes, args.dir, flash_file_runs)
        tables.append(table)
        results["cures"], table = every_cure(sizes, args.dir)
        tables.append(table)
        results["buyer_process_cost"], table = buyer_process_cost(
            sizes, results["lesson_vs_engine"]["rows"][LESSON]["wall_s"]
        )
        tables.append(table)
        if not args.no_api:
            results["api"], table, server_memory = api_under_load(sizes, args.quick)
            tables.append(table)
            results["memory"], table = memory_use(sizes, args.dir, server_memory)
            tables.append(table)
            results["experiments"], table = experiment_overhead(sizes)
            tables.append(table)
    if args.only in (None, "dask"):
        results["dask"], table = dask_executor(args.quick)
        tables.append(table)
    if args.only in (None, "native"):
        results["native"], table = beside_native_tools(sizes, args.dir)
        tables.append(table)
    print(file=sys.stderr)
    goals = judge(sizes, args.quick, results)
    command = "python -m bench" + (" --quick" if args.quick else "") + (f" --runs {args.runs}" if args.runs else "")
    command += f" --only {args.only}" if args.only else ""
    about = machine(args.dir)
    rounds = sizes.native[1]
    runs = {
        None: f"median of {sizes.runs} runs per figure",
        "wait": f"median of {sizes.runs} runs per figure",
        "dask": "one run",
        "native": f"median of {rounds} rounds" if rounds > 1 else "one round",
    }
    header = (
        f"ticketrush benchmark: `{command}`, {runs[args.only]}, each run a fresh process\n"
        f"machine: {about['cpus']} CPUs ({about['cpu_model']}), Linux {about['kernel']}, Python {about['python']}, "
        f"run folders in {about['run_folders']}; load average {load_before:.1f} at start, "
        f"{load_average():.1f} at end; took {time.monotonic() - started:.0f} s"
    )
    print(header)
    for table in tables:
        print()
        print(table.render())
    print()
    print("Goals" + (" (not judged: --quick uses other sizes)" if args.quick else ""))
    for goal in goals:
        print(goal.render())
    RESULTS.write_text(
        json.dumps(
            {
                "command": command,
                "quick": args.quick,
                "sizes": asdict(sizes),
                "machine": about,
                "load_average": {"start": load_before, "end": load_average()},
                "sections": results,
                "goals": [asdict(goal) for goal in goals],
                "tables": [table.render() for table in tables],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\n(written to {RESULTS.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

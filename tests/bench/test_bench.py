"""The benchmark's machinery: each kind of measured run works and reports a well-formed result.

Not a timed test: the figures themselves are the benchmark's business (`make bench-quick` runs it whole).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.procs import run_module

ROOT = Path(__file__).resolve().parents[2]


def run_json(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m module` as the benchmark does (a fresh process from the repository root)."""
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_lesson_baseline_runs_20_buyers_and_accounts_for_each() -> None:
    result = run_json("bench.lesson", "--buyers", "20", "--tickets", "5", "--lock")
    assert (result["buyers"], result["tickets"], result["lock"]) == (20, 5, "process")
    assert result["hung"] == 0 and result["errored"] == result["crashed"]
    # under the lesson's lock every sale is real: as many told they got a ticket as left the db
    assert result["handed_out"] == result["sold"] == 5 and result["remaining"] == 0
    assert result["safe"] and result["oversold"] == result["lost_updates"] == 0


def test_lesson_baseline_wall_time_spans_the_thinking_and_every_hold_in_turn() -> None:
    result = run_json(
        "bench.lesson", "--buyers", "5", "--tickets", "5", "--lock", "--think-ms", "300", "--hold-ms", "20"
    )
    assert result["hung"] == 0 and result["sold"] >= 1
    # no sale before a buyer has thought for 300 ms, then each holds the lock for 20 ms in turn (a buyer whose
    # search read a half-written db crashes and sells nothing, so the bound counts the sales made)
    assert result["wall_s"] >= 0.300 + result["sold"] * 0.020, result


def test_lesson_baseline_without_the_lock_still_counts_what_it_handed_out() -> None:
    result = run_json("bench.lesson", "--buyers", "10", "--tickets", "1", "--hold-ms", "20")
    assert result["lock"] == "none" and result["remaining"] == 0 and result["sold"] == 1
    assert result["handed_out"] >= 1
    assert result["oversold"] == result["handed_out"] - 1 and result["safe"] == (result["handed_out"] == 1)


def test_engine_runner_reports_a_correct_run_for_each_executor() -> None:
    for executor in ("process", "pool"):
        result = run_json("bench.engine", "--buyers", "20", "--tickets", "5", "--lock", "file", "--executor", executor)
        assert result["executor"] == executor and result["correct"]
        assert (result["errored"], result["sold"], result["handed_out"]) == (0, 5, 5)
        assert result["workers"] == (None if executor == "process" else min(20, os.cpu_count() or 1))
        # timed from the call to the report: the run itself, and its launch and reaping around it
        assert result["wall_s"] * 1000 >= result["run_ms"] > 0


def test_memory_sampler_sums_pss_over_a_process_tree() -> None:
    # the child writes 64 MiB of its own, says so, and waits to be told to exit
    child = "import sys; block = b'x' * (64 << 20); print('ready', flush=True); sys.stdin.readline()"
    code = (
        "import json, os, subprocess, sys, time\n"
        "from bench.memory import PeakPss, pss_kib, tree_pss_kib\n"
        f"child = subprocess.Popen([sys.executable, '-c', {child!r}], stdin=subprocess.PIPE, stdout=subprocess.PIPE)\n"
        "child.stdout.readline()\n"
        "alone, _ = tree_pss_kib(child.pid)\n"
        "with PeakPss(os.getpid(), interval_s=0.01) as peak:\n"
        "    deadline = time.monotonic() + 10\n"
        "    while peak.samples < 5 and time.monotonic() < deadline:  # a few samples with both alive\n"
        "        time.sleep(0.01)\n"
        "    child.communicate(b'\\n', timeout=10)\n"
        "me = pss_kib(os.getpid())\n"
        "print(json.dumps({'child': alone, 'me': me, 'peak': peak.kib, 'processes': peak.processes}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 64 * 1024 <= result["child"] < 2 * 64 * 1024  # its 64 MiB, and an interpreter's few MiB besides
    # the sum over both processes, while both lived (the parent alone, the sampler included, is about `me`)
    assert result["peak"] >= result["child"] + result["me"] // 2 and result["processes"] == 2


def test_fork_cost_adds_one_step_per_row_and_each_costs_more_than_forking_alone() -> None:
    result = run_json("bench.forkcost", "--forks", "20")
    assert result["forks"] == 20
    rows = [result[label] for label in ("kernel fork + exit", "os.fork + os._exit", "buyer process, no work")]
    engine, lesson = result["engine buyer"], result["lesson buyer"]
    assert list(result) == ["forks", "kernel fork + exit", "os.fork + os._exit", "buyer process, no work",
                            "engine buyer", "lesson buyer"]  # fmt: skip
    for row in [*rows, engine, lesson]:
        assert set(row) == {"parent_ms", "child_ms", "child_faults"}
    # Python's child runs the after-fork hooks: more pages written than the kernel's bare fork and exit
    assert rows[1]["child_faults"] > rows[0]["child_faults"]
    # a buyer that reads, locks, writes and reports touches more pages than one that does nothing
    assert engine["child_faults"] > rows[2]["child_faults"]
    # the README's claim: the engine's buyer writes fewer pages than the lesson's (354 against 455 there)
    assert lesson["child_faults"] > engine["child_faults"]
    # CPU, not wall time: a child that runs Python and buys spends more than one that only exits (2.5x there)
    assert min(engine["child_ms"], lesson["child_ms"]) > rows[0]["child_ms"]


def test_a_measured_run_counts_the_cpu_and_page_faults_of_every_process_it_started() -> None:
    def engine(buyers: int) -> dict[str, Any]:
        return run_module("bench.engine", ["--buyers", str(buyers), "--tickets", "1", "--executor", "process"])

    few, many = engine(2), engine(60)
    assert many["correct"] and few["correct"]
    # each buyer process's own faults reach the count, not only the measured process's
    assert many["page_faults"] > few["page_faults"] + 58 * 100
    # and their CPU: at least 1 ms more for each of the 58 more buyer processes (about 5 ms each in the README)
    assert many["cpu_s"] > few["cpu_s"] + 58 * 0.0005  # half a millisecond per process: far below its cost


def test_dask_bench_runs_both_executors_on_one_redis_and_accounts_for_each(redis_url: str) -> None:
    """bench.dask: the dask run (on its two workers of this host) and the pool run each sell exactly half the
    buyers; the dask records name their host, the overheads and Redis's share are measured, and no key is left."""
    import redis

    data = run_json("bench.dask", "--buyers", "400", "--tasks", "20", "--redis", redis_url)
    for name, hosts in (("dask", ["127.0.0.1"]), ("pool", [])):
        row = data[name]
        assert (row["buyers"], row["sold"], row["oversold"], row["errored"]) == (400, 200, 0, 0)
        assert row["hosts"] == hosts
        assert row["redis_cpu_us_per_buyer"] > 0
    assert data["task_overhead"]["tasks"] == 20 and data["task_overhead"]["per_task_ms"] > 0
    assert set(data["run_overhead_s"]) == {"dask", "pool"}
    client = redis.Redis.from_url(redis_url)
    try:
        for executor in ("dask", "pool"):  # the runs' folders are <executor>-400: their keys, dropped
            assert list(client.scan_iter(match=f"ticketrush:{executor}_400_*")) == []
    finally:
        client.close()

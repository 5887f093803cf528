"""The benchmark's machinery: each kind of measured run works and reports a well-formed result.

Not a timed test: the figures themselves are the benchmark's business (`make bench-quick` runs it whole).
"""

from __future__ import annotations

import json
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
    assert result["wall_s"] > 0


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
        assert result["wall_s"] > 0


def test_memory_sampler_sums_pss_over_a_process_tree() -> None:
    code = (
        "import json, os, subprocess, sys\n"
        "from bench.memory import PeakPss, tree_pss_kib\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1)'])\n"
        "alone, _ = tree_pss_kib(child.pid)\n"
        "with PeakPss(os.getpid(), interval_s=0.01) as peak:\n"
        "    child.wait(10)\n"
        "print(json.dumps({'child': alone, 'peak': peak.kib, 'processes': peak.processes}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["child"] > 0
    assert result["peak"] > result["child"] and result["processes"] == 2


def test_fork_cost_adds_one_step_per_row_and_each_costs_more_than_forking_alone() -> None:
    result = run_json("bench.forkcost", "--forks", "20")
    assert result["forks"] == 20
    rows = [result[label] for label in ("kernel fork + exit", "os.fork + os._exit", "buyer process, no work")]
    engine, lesson = result["engine buyer"], result["lesson buyer"]
    for row in [*rows, engine, lesson]:
        assert row["parent_ms"] > 0 and row["child_ms"] > 0 and row["child_faults"] > 0
    # Python's child runs the after-fork hooks: more pages written than the kernel's bare fork and exit
    assert rows[1]["child_faults"] > rows[0]["child_faults"]
    # a buyer that reads, locks, writes and reports touches more pages than one that does nothing
    assert engine["child_faults"] > rows[2]["child_faults"]


def test_a_measured_run_counts_the_cpu_and_page_faults_of_every_process_it_started() -> None:
    def engine(buyers: int) -> dict[str, Any]:
        return run_module("bench.engine", ["--buyers", str(buyers), "--tickets", "1", "--executor", "process"])

    few, many = engine(2), engine(60)
    assert many["correct"] and few["correct"]
    # each buyer process's own faults reach the count, not only the measured process's
    assert many["page_faults"] > few["page_faults"] + 58 * 100 > 0
    assert many["cpu_s"] > 0 and few["cpu_s"] > 0

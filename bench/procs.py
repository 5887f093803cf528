"""Running one measured run as a fresh process, and summarising several."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.memory import PeakPss

ROOT = Path(__file__).resolve().parent.parent


class RunError(Exception):
    """A measured run failed, timed out or printed no result."""


def _children_usage() -> tuple[float, int]:
    """CPU seconds and page faults of every child process waited for so far (and of their own children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_minflt


def run_module(module: str, args: Sequence[str], timeout_s: float = 600.0, *, memory: bool = False) -> dict[str, Any]:
    """Run `python -m module *args` from the repository root; return the JSON object it prints last.

    The run gets a session of its own, so on a timeout the whole process group (buyers too) is killed. The
    result gains `cpu_s` and `page_faults`: the CPU time the run and every process it started used, and the
    page faults they took (copy-on-write ones among them); with `memory`, also the peak PSS of the run's
    process tree (sampling costs CPU, so such runs are not timed ones).
    """
    cpu_before, faults_before = _children_usage()
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        with PeakPss(process.pid) if memory else contextlib.nullcontext() as peak:
            out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise RunError(f"{module} {' '.join(args)} took more than {timeout_s:g} s") from e
    lines = out.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError) as e:
        raise RunError(f"{module} {' '.join(args)} printed no result (exit {process.returncode}): {err[-500:]}") from e
    if "failed" in result:
        raise RunError(f"{module} {' '.join(args)}: {result['failed']}")
    cpu_after, faults_after = _children_usage()
    result["cpu_s"] = round(cpu_after - cpu_before, 3)
    result["page_faults"] = faults_after - faults_before
    if isinstance(peak, PeakPss):
        result["peak_pss_mib"] = round(peak.kib / 1024, 1)
        result["processes_at_peak"] = peak.processes
    return result


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summary(samples: Sequence[dict[str, Any]], key: str) -> dict[str, float]:
    """Median, lowest and highest of one figure over several runs."""
    values = [float(s[key]) for s in samples]
    return {"median": median(values), "min": min(values), "max": max(values)}

"""What the forking process's imports add to forking a thousand buyers that wait at a start line.

    python -m bench.forkweight --forks 1000 --rounds 3

Each variant is a fresh `python -S -P -m bench.floor --start-line` that imports a set of modules, then forks
`--forks` children that each wait at one pipe (as buyers wait at the start line), releases them with one byte,
and reaps them all. The sets:

    bare                   nothing beyond what the interpreter starts with (bench.floor's forker)
    file-lock launcher     what a launcher imports for a run under a file lock: workers.launcher, the file store,
                           the read-write strategy
    with a pipe per child  the file-lock launcher's, keeping a pipe per child open as a multiprocessing Process's
                           sentinel (each child inherits those of the children before it)
    with multiprocessing   the file-lock launcher's plus multiprocessing.synchronize, which a run under a
                           multiprocessing lock (lock "process", the lesson's) imports, and with it threading

The variants run round robin, `--rounds` times. Prints one JSON object: per variant, the median seconds to fork
them all (`fork_s`), to release and reap them (`reap_s`), the forking process's anonymous memory (`anon_kb`), and
whether threading was imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILE_LOCK_LAUNCHER = ["workers.launcher", "workers.stores.file", "workers.strategies.read_write"]
VARIANTS: dict[str, tuple[list[str], list[str]]] = {  # name: (modules, options)
    "bare": ([], []),
    "file-lock launcher": (FILE_LOCK_LAUNCHER, []),
    "with a pipe per child": (FILE_LOCK_LAUNCHER, ["--sentinels"]),
    "with multiprocessing": ([*FILE_LOCK_LAUNCHER, "multiprocessing.synchronize"], []),
}


def variant(modules: list[str], options: list[str], forks: int) -> dict[str, Any]:
    """One variant, in a fresh `python -S -P` that imports `modules` first."""
    command = [sys.executable, "-S", "-P", "-m", "bench.floor", "--forks", str(forks), "--start-line"]
    done = subprocess.run(
        [*command, *options, "--imports", ",".join(modules)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(forks: int, rounds: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, (modules, options) in VARIANTS.items():
            samples[name].append(variant(modules, options, forks))
    report: dict[str, Any] = {"forks": forks, "rounds": rounds}
    for name, runs in samples.items():
        report[name] = {
            "fork_s": round(statistics.median(r["fork_s"] for r in runs), 4),
            "reap_s": round(statistics.median(r["reap_s"] for r in runs), 4),
            "anon_kb": runs[-1]["anon_kb"],
            "threading": runs[-1]["threading"],
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forkweight", description=__doc__.split("\n")[0])
    parser.add_argument("--forks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.forks, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

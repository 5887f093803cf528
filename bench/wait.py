"""What a user waits: POST /simulations to a completed result, through a real server, beside the lesson and the floor.

    python -m bench.wait [--quick] [--runs N]

For each run size the server is posted the run, then asked for it every 20 ms until it is finished; the wait is
POST to the first answer that says completed. `duration_ms` (the race, start line to last record) is the
engine's own figure, so the wait minus the race is what a run costs outside it; `setup_ms` (the run's start to the
buyers' release: the store prepared, the buyers forked) splits that into the run's start and the rest (the POST
handed to a run process; after the race, the analysis, the records saved and the answer polled). In the same
run, round robin: the lesson's own code with as many buyers (`bench.lesson`, as a whole process: what its user
waits) and the floor, a process that forks and reaps as many bare processes (`bench.floor`). The fixed cost is
measured twice: a run posted to a server at rest (a second after the last run) and one posted the moment the one
before it is done (as a comparison posts its runs). The pool runs' records are then downloaded as CSV (first byte,
last byte). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.procs import ROOT, median, run_module
from bench.server import RUN_TIMEOUT_S, TERMINAL, Server

POLL_S = 0.02
AT_REST_S = 1.0  # the pause before a run posted to a server at rest (a user reading the last result)
FIXED = {"buyers": 1000, "tickets": 100, "lock": "file", "executor": "pool", "think_ms": 0, "hold_ms": 0}
LESSON_10 = {"buyers": 10, "tickets": 1, "lock": "process"}  # the lesson's delays are the defaults
PROCESS_1000 = {"buyers": 1000, "tickets": 100, "lock": "file", "executor": "process", "think_ms": 0, "hold_ms": 0}
FULL_FLASH = (100_000, 1_000_000)
QUICK_FLASH = (100_000,)


def flash(buyers: int) -> dict[str, Any]:
    return {"buyers": buyers, "tickets": buyers // 10, "lock": "file", "executor": "pool", "think_ms": 0, "hold_ms": 0}


def csv_download(client: httpx.Client, sim_id: str, buyers: int) -> dict[str, Any]:
    """The run's buyer records as CSV, streamed: seconds to the first byte and to the last; every buyer there."""
    started = time.perf_counter()
    first_s, lines = None, 0
    with client.stream("GET", f"/simulations/{sim_id}/buyers", params={"format": "csv"}) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            if first_s is None:
                first_s = time.perf_counter() - started
            lines += chunk.count(b"\n")
    if lines != buyers + 1:
        raise RuntimeError(f"the CSV of simulation {sim_id} has {lines - 1} rows for {buyers} buyers")
    return {"csv_first_byte_s": round(first_s or 0.0, 4), "csv_s": round(time.perf_counter() - started, 4)}


def posted_to_completed(client: httpx.Client, config: dict[str, Any], csv: bool = False) -> dict[str, Any]:
    """POST `config`, poll until it is finished; the wait in seconds, the race's duration and the verdict (and,
    with `csv`, how long its records take to download as CSV)."""
    started = time.perf_counter()
    answer = client.post("/simulations", json=config)
    answer.raise_for_status()
    sim_id = answer.json()["id"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (body := client.get(f"/simulations/{sim_id}").json())["status"] not in TERMINAL:
        if time.monotonic() > deadline:
            raise RuntimeError(f"simulation {sim_id} did not finish within {RUN_TIMEOUT_S:g} s")
        time.sleep(POLL_S)
    wait_s = time.perf_counter() - started
    if body["status"] != "completed":
        raise RuntimeError(f"simulation {sim_id} {body['status']}: {body['error']}")
    result = body["result"]
    download = csv_download(client, sim_id, config["buyers"]) if csv else {}
    client.delete(f"/simulations/{sim_id}")
    race_s, setup_s = result["duration_ms"] / 1000, result["setup_ms"] / 1000
    return {
        "wait_s": round(wait_s, 4),
        "race_s": round(race_s, 4),
        "outside_s": round(wait_s - race_s, 4),
        "setup_s": round(setup_s, 4),
        "rest_s": round(wait_s - setup_s - race_s, 4),
        "oversold": result["oversold"],
        "sold": result["tickets_sold"],
        "safe": result["safe"],
        **download,
    }


def lesson_wall(buyers: int, tickets: int, extra: list[str]) -> dict[str, Any]:
    """The lesson's own code as its user runs it: the whole process, start to exit."""
    started = time.perf_counter()
    result = run_module("bench.lesson", ["--buyers", str(buyers), "--tickets", str(tickets), "--lock", *extra])
    return {"wait_s": round(time.perf_counter() - started, 4), "race_s": result["wall_s"], "sold": result["sold"]}


def floor(buyers: int) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-S", "-m", "bench.floor", "--forks", str(buyers)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wait_s": round(time.perf_counter() - started, 4), "forks_s": result["forks_s"]}


def _medians(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float))]
    return {
        **{k: round(median([s[k] for s in samples]), 4) for k in keys},
        "wait_s_all": [s["wait_s"] for s in samples],
    }


def measure(runs: int, flash_sizes: tuple[int, ...]) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {}
    limits = {"TICKETRUSH_MAX_BUYERS": str(max(flash_sizes, default=1_000) * 2)}
    with Server(env=limits) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
        posted_to_completed(client, {"buyers": 2, "think_ms": 0, "hold_ms": 0})  # the server's first run
        for _ in range(runs):  # round robin, so that a noisy moment hits every variant alike
            time.sleep(AT_REST_S)
            rows.setdefault("fixed", []).append(posted_to_completed(client, FIXED))
            rows.setdefault("fixed_back_to_back", []).append(posted_to_completed(client, FIXED))
            rows.setdefault("lesson_10", []).append(posted_to_completed(client, LESSON_10))
            rows.setdefault("lesson_10_own", []).append(
                lesson_wall(10, 1, ["--think-ms", "100", "--hold-ms", "100-300"])
            )
            rows.setdefault("process_1000", []).append(posted_to_completed(client, PROCESS_1000))
            rows.setdefault("process_1000_lesson", []).append(lesson_wall(1000, 100, []))
            rows.setdefault("process_1000_floor", []).append(floor(1000))
            for n in flash_sizes:
                rows.setdefault(f"pool_{n}", []).append(posted_to_completed(client, flash(n), csv=True))
    return {name: _medians(samples) for name, samples in rows.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wait", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 buyers at most, instead of 1,000,000")
    parser.add_argument("--flash", type=int, nargs="*", help="the pool runs' sizes instead (default: 100,000 and 1M)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = tuple(args.flash) if args.flash is not None else QUICK_FLASH if args.quick else FULL_FLASH
    print(json.dumps(measure(args.runs, sizes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

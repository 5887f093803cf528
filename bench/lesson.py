"""The baseline: the lesson's 12306 ticket grab, as the lesson writes it, made measurable.

One `multiprocessing.Process` per buyer, started from the main process with the default start method; each
buyer *searches* (json.load the db, think, print what it saw), then *gets* (json.load again; if a ticket is
left, hold, then json.dump the count minus one to the db opened "wt"), optionally between `mutex.acquire()`
and `mutex.release()`. Only what is needed to measure it is added: the buyers' prints go to a file (counted
afterwards to learn how many were told they got a ticket), every child is joined as multiprocessing does at
exit (with a deadline, so a buyer that died holding the lock cannot hang the benchmark), and a buyer that
crashed is counted from the traceback it printed. The unlocked search reads a file that a writer has just
truncated, so some buyers crash with JSONDecodeError: the engine's atomic db exists to prevent exactly that.

    python -m bench.lesson --buyers 1000 --tickets 100 --lock --think-ms 0 --hold-ms 0
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing import Lock, Process
from pathlib import Path
from typing import Any

GOT_A_TICKET = "got a ticket"
JOIN_DEADLINE_S = 120.0


def search(i: int, db: str, think_s: float) -> None:
    with open(db, encoding="utf-8") as f:
        dic = json.load(f)
        time.sleep(think_s)
        print(f"buyer {i} sees {dic['count']} ticket(s) left")


def get(i: int, db: str, hold_s: tuple[float, float]) -> None:
    with open(db, encoding="utf-8") as f:
        dic = json.load(f)
    if dic["count"] > 0:
        dic["count"] -= 1
        time.sleep(random.uniform(*hold_s))  # while it sleeps, every other buyer reads the same count
        with open(db, "wt", encoding="utf-8") as f:  # noqa: UP015 (the lesson's own words)
            json.dump(dic, f)
            print(f"buyer {i} {GOT_A_TICKET}")
    else:
        print(f"buyer {i} found it sold out")


def task(i: int, mutex: Any, db: str, think_s: float, hold_s: tuple[float, float]) -> None:
    search(i, db, think_s)
    if mutex is not None:
        mutex.acquire()
    get(i, db, hold_s)
    if mutex is not None:
        mutex.release()


def rush(buyers: int, tickets: int, locked: bool, think_ms: float, hold_ms: tuple[float, float], folder: Path) -> dict:
    """Run the lesson's rush in `folder` and measure it; the buyers' prints go to folder/out.txt."""
    db = str(folder / "db.json")
    with open(db, "w", encoding="utf-8") as f:
        json.dump({"count": tickets}, f)
    think_s, hold_s = think_ms / 1000, (hold_ms[0] / 1000, hold_ms[1] / 1000)
    out_path = folder / "out.txt"
    with output_to(out_path):
        started = time.perf_counter()
        mutex = Lock() if locked else None
        for i in range(1, buyers + 1):
            p = Process(target=task, args=(i, mutex, db, think_s, hold_s))
            p.start()
        # The lesson's main ends here, and multiprocessing joins the children before the interpreter exits.
        hung = _join_children(time.monotonic() + JOIN_DEADLINE_S)
        wall_s = time.perf_counter() - started
    text = out_path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    handed_out = sum(1 for line in lines if line.endswith(GOT_A_TICKET))
    crashed = sum(1 for line in lines if line.startswith("Traceback (most recent call last)"))
    with open(db, encoding="utf-8") as f:
        remaining = json.load(f)["count"]
    sold = tickets - remaining
    return {
        "buyers": buyers,
        "tickets": tickets,
        "lock": "process" if locked else "none",
        "wall_s": round(wall_s, 4),
        "crashed": crashed,
        "hung": hung,
        "errored": crashed + hung,
        "handed_out": handed_out,
        "sold": sold,
        "remaining": remaining,
        "oversold": max(0, handed_out - tickets),
        "lost_updates": max(0, handed_out - sold),
        "safe": handed_out <= tickets and handed_out == sold,
    }


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's (and so every buyer's) stdout and stderr to `path` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)  # a crashed buyer's traceback, as the lesson's terminal would show it
    os.close(out)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in zip((1, 2), saved, strict=True):
            os.dup2(original, fd)
            os.close(original)


def _join_children(deadline: float) -> int:
    """Join every buyer, as multiprocessing does at exit; kill those still running at `deadline`, count them."""
    while children := multiprocessing.active_children():
        for p in children:
            p.join(max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            hung = multiprocessing.active_children()
            for p in hung:
                p.kill()
                p.join(5)
            return len(hung)
    return 0


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lesson", description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=10)
    parser.add_argument("--tickets", type=int, default=1)
    parser.add_argument("--lock", action="store_true", help="put the lesson's mutex around get")
    parser.add_argument("--think-ms", type=float, default=0.0)
    parser.add_argument("--hold-ms", type=_range, default=(0.0, 0.0), help="ms, or a range such as 100-300")
    parser.add_argument("--dir", help="where the run's folder goes (default: the system's temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ticketrush-lesson-", dir=args.dir) as folder:
        result = rush(args.buyers, args.tickets, args.lock, args.think_ms, args.hold_ms, Path(folder))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

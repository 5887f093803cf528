"""Where one buyer process's time goes: forking, Python's own start in the child, the buyer's work, exiting.

    python -m bench.forkcost --forks 1000

Each variant starts `--forks` processes one after another (start, then join, so that they never compete for
the CPUs) from this process, which has imported what the launcher imports. getrusage gives, per process,
the parent's CPU time (the fork, the copy-on-write faults of its own next writes, the join) and the child's
CPU time and page faults (everything it does, exit included). The variants add one step at a time:

    kernel fork + exit      libc's fork(), the child calls _exit() at once: what the kernel alone costs
    os.fork + os._exit      the same through Python, whose child runs the after-fork hooks that threading
                            and random install (every program that imports multiprocessing has them)
    buyer process, no work  a LeanProcess, as the launcher starts it, with an empty target
    engine buyer            a LeanProcess running workers.buyer.buyer_process for one buyer: process lock, no start
                            line, a tenth of the buyers find a ticket, the record sent over the channel;
                            forked, as the launcher forks them, after a rehearsal (workers.launcher.rehearse)
    lesson buyer            a multiprocessing.Process running the lesson's task (bench/lesson.py)

Prints one JSON line: per variant, parent_ms, child_ms and child_faults per process.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import os
import resource
import select
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.lesson import output_to, task
from workers.buyer import buyer_process
from workers.channel import RecordChannel
from workers.launcher import rehearse  # and with it the modules the launcher holds when it forks
from workers.process import LeanProcess
from workers.stores.file import FileStore
from workers.strategies import Plan
from workers.strategies.read_write import ReadWrite

JOIN_TIMEOUT_S = 10.0
_libc = ctypes.CDLL(None, use_errno=True)


def measure(start_one: Callable[[int], None], forks: int) -> dict[str, float]:
    """Per process: the parent's CPU ms, the child's CPU ms and page faults."""
    parent, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    for i in range(forks):
        start_one(i)
    parent_after, children_after = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))

    def cpu_ms(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
        spent = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return round(spent * 1000 / forks, 3)

    return {
        "parent_ms": cpu_ms(parent, parent_after),
        "child_ms": cpu_ms(children, children_after),
        "child_faults": round((children_after.ru_minflt - children.ru_minflt) / forks),
    }


def _reap(pid: int) -> None:
    """Wait for child `pid` to exit (killing it past JOIN_TIMEOUT_S) and collect it."""
    exited = os.pidfd_open(pid)
    try:
        if not select.select([exited], [], [], JOIN_TIMEOUT_S)[0]:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(exited)
    _, status = os.waitpid(pid, 0)  # it has exited, or been killed: this returns at once
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"process {pid} ended with status {status}")


def kernel_fork(_: int) -> None:
    pid = _libc.fork()  # no Python in the child: it only exits
    if pid == 0:
        _libc._exit(0)
    if pid < 0:
        raise OSError(ctypes.get_errno(), "fork failed")
    _reap(pid)


def python_fork(_: int) -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _reap(pid)


def _nothing() -> None:
    pass


def _join(process: multiprocessing.process.BaseProcess | LeanProcess) -> None:
    process.join(JOIN_TIMEOUT_S)
    if process.exitcode != 0:
        process.kill()
        process.join(JOIN_TIMEOUT_S)
        raise RuntimeError(f"buyer process {process.pid} ended with exit code {process.exitcode}")
    process.close()


def lean_process(_: int) -> None:
    process = LeanProcess(target=_nothing)
    process.start()
    _join(process)


def engine_buyers(folder: Path, tickets: int, channel: RecordChannel) -> Callable[[int], None]:
    store = FileStore(folder)
    store.create(tickets)
    plan = Plan(lock="process", lock_timeout_s=JOIN_TIMEOUT_S, start_timeout_s=JOIN_TIMEOUT_S, parent_pid=os.getpid())
    strategy = ReadWrite(plan, store, multiprocessing.get_context("fork"), [range(1, 2)])
    rehearse(plan, store)

    def engine_buyer(i: int) -> None:
        process = LeanProcess(target=buyer_process, args=(0, range(i + 1, i + 2), strategy, None, channel))
        process.start()
        _join(process)
        while channel.ready(0):
            channel.receive()

    return engine_buyer


def lesson_buyers(folder: Path, tickets: int) -> Callable[[int], None]:
    db = folder / "lesson.json"
    db.write_text(json.dumps({"count": tickets}))
    mutex = multiprocessing.Lock()

    def lesson_buyer(i: int) -> None:
        process = multiprocessing.Process(target=task, args=(i + 1, mutex, str(db), 0.0, (0.0, 0.0)))
        process.start()
        _join(process)

    return lesson_buyer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forkcost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--forks", type=int, default=1000, help="processes per variant")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"forks": args.forks}
    tickets = max(1, args.forks // 10)  # a tenth of the buyers find a ticket, as in the benchmark's runs
    channel = RecordChannel.open()
    try:
        with tempfile.TemporaryDirectory(prefix="ticketrush-forkcost-") as name:
            folder = Path(name)
            variants: dict[str, Callable[[int], None]] = {
                "kernel fork + exit": kernel_fork,
                "os.fork + os._exit": python_fork,
                "buyer process, no work": lean_process,
                "engine buyer": engine_buyers(folder, tickets, channel),
            }
            for label, start_one in variants.items():
                results[label] = measure(start_one, args.forks)
            with output_to(folder / "lesson-out.txt"):  # the lesson's buyers print what they saw
                results["lesson buyer"] = measure(lesson_buyers(folder, tickets), args.forks)
    finally:
        channel.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

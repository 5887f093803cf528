"""The coordinator: one per run, single-threaded, in the process that calls `run_simulation`.

    run_simulation(config, run_dir)
      |-- prepare   db.json = {"count": T}, the lock, a start Event, a result channel (a pipe)
      |-- launch    W buyer processes (one per buyer, or a pool), each given its buyer numbers;
      |             they wait at the start line (the Event)
      |-- release   start.set(): every buyer begins at once
      |-- collect   record batches from the channel, while watching the process sentinels (a dead
      |             process's unreported buyers become errors), cancellation and the time limit
      |-- reap      join every process; terminate, then kill, any that linger: no zombie, no orphan
      `-- analyse   remaining count from the db + the records -> Result

Buyers are forked, as lean processes (workers.process): cheap, and safe because the coordinator runs no
other thread. Called from a process that does run threads (a web server), it starts buyers through a fork
server instead.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from workers.analysis import Result, analyse
from workers.buyer import Plan, work
from workers.channel import RecordChannel
from workers.config import SimulationConfig, delay_bounds
from workers.db import TicketDb
from workers.errors import RunCancelled, RunFailed, RunTimedOut, TicketrushError
from workers.hygiene import exit_cause
from workers.locks import make_lock
from workers.messages import BuyerRecord
from workers.process import LeanProcess, start_untracked

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]

POLL_S = 0.05
PROGRESS_INTERVAL_S = 0.1
REAP_GRACE_S = 5.0
DEFAULT_TIME_LIMIT_S = 300.0


@dataclass
class RunReport:
    """Everything a finished run produced."""

    config: SimulationConfig
    result: Result
    records: list[BuyerRecord]


@dataclass
class _Worker:
    process: BaseProcess
    buyers: range
    reaped: bool = False


def buyer_context() -> BaseContext:
    """Fork when this process has one thread; otherwise forking is unsafe, so use a fork server."""
    method = "fork" if threading.active_count() == 1 else "forkserver"
    return multiprocessing.get_context(method)


def share_out(config: SimulationConfig) -> list[range]:
    """Buyer numbers (1..N) per process: one each, or interleaved across a pool of `workers`."""
    if config.executor == "process":
        return [range(b, b + 1) for b in range(1, config.buyers + 1)]
    size = config.workers or 1
    return [range(k + 1, config.buyers + 1, size) for k in range(size)]


class _Run:
    def __init__(self, config: SimulationConfig, run_dir: Path, time_limit_s: float) -> None:
        self.config = config
        self.db = TicketDb(run_dir / "db.json")
        self.context = buyer_context()
        forking = self.context.get_start_method() == "fork"
        self.process_class: type[BaseProcess] = LeanProcess
        if not forking:
            self.process_class = self.context.Process  # type: ignore[attr-defined]
        self.lock = make_lock(config.lock, self.context, self.db.path)
        self.results = RecordChannel(self.context)
        self.start = self.context.Event() if config.together else None
        self.deadline = time.monotonic() + time_limit_s
        self.time_limit_s = time_limit_s
        self.workers: list[_Worker] = []
        self.records: dict[int, BuyerRecord] = {}
        self.started_ns = 0
        self.plan = Plan(
            db_path=self.db.path,
            think_ms=delay_bounds(config.think_ms),
            hold_ms=delay_bounds(config.hold_ms),
            seed=config.seed or 0,
            lock_timeout_s=config.lock_timeout_s,
            start_timeout_s=time_limit_s,
            parent_pid=os.getpid() if forking else None,
        )

    def check(self, should_stop: StopCheck | None) -> None:
        if should_stop is not None and should_stop():
            raise RunCancelled("the run was cancelled")
        if time.monotonic() > self.deadline:
            raise RunTimedOut(f"the run went past its time limit of {self.time_limit_s:g} s")

    def launch(self, should_stop: StopCheck | None) -> None:
        if self.start is None:
            self.started_ns = time.monotonic_ns()
        for n, buyers in enumerate(share_out(self.config)):
            process = self.process_class(
                target=work,
                args=(buyers, self.plan, self.lock, self.start, self.results),
                name=f"ticketrush-buyer-{buyers.start}" if len(buyers) == 1 else f"ticketrush-pool-{n + 1}",
                daemon=True,
            )
            try:
                start_untracked(process)
            except OSError as e:
                raise RunFailed(f"could not start buyer process {n + 1}: {e}") from e
            self.workers.append(_Worker(process, buyers))
            if n % 50 == 49:
                self._drain()  # buyers that are not held at the start line are reporting already
                self.check(should_stop)

    def release(self) -> None:
        if self.start is not None:
            self.started_ns = time.monotonic_ns()
            self.start.set()

    def collect(self, on_progress: ProgressCallback | None, should_stop: StopCheck | None) -> None:
        total = self.config.buyers
        next_progress = 0.0
        next_reap = 0.0
        while len(self.records) < total:
            if self.results.ready(POLL_S):
                self._take(self.results.receive())
            now = time.monotonic()
            if now >= next_reap or len(self.records) >= total:
                self._reap_exited()
                next_reap = now + POLL_S
            if on_progress is not None and now >= next_progress:
                on_progress(len(self.records), total)
                next_progress = now + PROGRESS_INTERVAL_S
            self.check(should_stop)
        if on_progress is not None:
            on_progress(len(self.records), total)

    def _take(self, batch: list[BuyerRecord]) -> None:
        for record in batch:
            self.records[record.buyer] = record

    def _drain(self) -> None:
        while self.results.ready(0):
            self._take(self.results.receive())

    def _reap_exited(self) -> None:
        live = {w.process.sentinel: w for w in self.workers if not w.reaped}
        exited = wait(list(live), timeout=0) if live else []
        if not exited:
            return
        self._drain()
        for sentinel in exited:
            worker = live[sentinel]  # type: ignore[index]
            worker.process.join(timeout=1)
            worker.reaped = True
            self._record_missing(worker)

    def _record_missing(self, worker: _Worker) -> None:
        cause = exit_cause(worker.process.exitcode)
        for buyer in worker.buyers:
            if buyer not in self.records:
                error = f"buyer process {worker.process.pid} {cause} before reporting"
                self.records[buyer] = BuyerRecord(buyer, worker.process.pid or 0, "error", error=error)

    def reap(self, grace_s: float) -> None:
        """Join every process; terminate, then kill, those still alive after `grace_s`."""
        deadline = time.monotonic() + grace_s
        for worker in self.workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for signal_them in ("terminate", "kill"):
            lingering = [w.process for w in self.workers if w.process.is_alive()]
            for process in lingering:
                getattr(process, signal_them)()
            for process in lingering:
                process.join(timeout=1)
        for worker in self.workers:
            worker.process.close() if not worker.process.is_alive() else None
        self.results.close()


def run_simulation(
    config: SimulationConfig,
    run_dir: Path,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> RunReport:
    """Run one ticket rush in `run_dir` and report on it.

    Raises RunCancelled when `should_stop()` turns true, RunTimedOut past `time_limit_s`, RunFailed when
    the run cannot be carried out; in every case no buyer process is left behind.
    """
    config = config.resolved()
    run = _Run(config, run_dir, time_limit_s)
    try:
        run.db.create(config.tickets)
    except TicketrushError as e:
        raise RunFailed(str(e)) from e
    cleanly = False
    try:
        run.launch(should_stop)
        run.release()
        run.collect(on_progress, should_stop)
        finished_ns = time.monotonic_ns()
        cleanly = True
    finally:
        run.reap(REAP_GRACE_S if cleanly else 0.0)
        run.db.remove_leftovers()
    try:
        remaining = run.db.read()
    except TicketrushError as e:
        raise RunFailed(str(e)) from e
    records = [run.records[b] for b in sorted(run.records)]
    result = analyse(
        records,
        tickets_initial=config.tickets,
        tickets_remaining=remaining,
        duration_ns=finished_ns - run.started_ns,
        lock_label=run.lock.label if config.lock != "none" else None,
    )
    return RunReport(config=config, result=result, records=records)

"""The coordinator: one per run, in the process that calls `run_simulation`.

run_simulation(config, run_dir, store_urls=...)
  |-- check     a store on a server: its URL was given, and the server takes as many connections as the run
  |             opens (StoreRefused otherwise, before anything starts)
  |-- prepare   the store holds T tickets (db.json = {"count": T}, or a table, or a key), a result channel
  |-- launch    a launcher process (workers.launcher), given the buyers' shares, the plan and the store
  |-- collect   record batches from the channel; the launcher's news (the start time, buyer processes
  |             that died: their unreported buyers become errors; a store server that closed a
  |             connection; the tickets left); cancellation and the time limit
  |-- reap      the launcher joins every process it started and exits; asked to stop, it terminates,
  |             then kills them; it is joined (or killed, which kills the buyers with it)
  `-- analyse   the tickets left + the records -> Result; a store server that closed a connection mid-run
                fails the run instead (StoreFailed, which keeps the records)

The launcher's module docstring draws what happens on its side. What a run leaves outside its folder (a
table, keys) stays until `drop_store` removes it.
"""

from __future__ import annotations

import contextlib
import gc
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from pathlib import Path

from workers.analysis import Result, analyse
from workers.channel import RecordChannel
from workers.config import SimulationConfig, delay_bounds
from workers.errors import (
    RunCancelled,
    RunFailed,
    RunTimedOut,
    StoreFailed,
    StoreLost,
    StoreRefused,
    TicketrushError,
    exit_cause,
    time_limit_passed,
)
from workers.launch import ReadyLauncher, start_launcher
from workers.launcher import STOP_GRACE_S
from workers.messages import BuyerRecord
from workers.schedules import follow, from_records
from workers.speech import Fact, fact, said
from workers.stores import make_store
from workers.stores.base import TicketStore, store_label
from workers.stores.file import FileStore
from workers.strategies import Plan

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]
StepFeed = Callable[[], Sequence[int]]
RecordsReady = Callable[[list[BuyerRecord]], None]

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


def share_out(config: SimulationConfig) -> list[range]:
    """Buyer numbers (1..N) per process: one each, or interleaved across a pool of `workers`."""
    if config.executor == "process":
        return [range(b, b + 1) for b in range(1, config.buyers + 1)]
    size = config.workers or 1
    return [range(k + 1, config.buyers + 1, size) for k in range(size)]


def _connections(config: SimulationConfig) -> tuple[int, Fact]:
    """How many connections to its store a run opens at once, and who opens them."""
    if config.strategy == "seller":
        return 1, fact("connections.seller")  # the buyers never touch the store
    if config.executor == "process":
        return config.buyers, fact("connections.per_buyer")
    return config.workers or 1, fact("connections.per_pool_worker")


def check_store(config: SimulationConfig, store_urls: Mapping[str, str] | None = None) -> None:
    """Refuse a run its store cannot take, before anything starts: StoreRefused when the store's server has no
    URL in `store_urls` or takes fewer connections than the run opens at once; StoreLost when the server
    cannot be reached to ask."""
    config = config.resolved()
    connections, who = _connections(config)
    problem = make_store(config.store, Path("."), store_urls).connection_problem(connections, who)
    if problem is not None:
        raise StoreRefused(problem, "executor", connections)


def drop_store(config: SimulationConfig, run_dir: Path, store_urls: Mapping[str, str] | None = None) -> None:
    """Remove what the run in `run_dir` left outside its folder (its table, its keys); nothing for the stores
    that live in the folder. Raises StoreRefused without the server's URL, StoreLost when it cannot be reached."""
    make_store(config.store, run_dir, store_urls).drop()


def remove_leftovers(run_dir: Path) -> int:
    """Delete the half-written files a run left in `run_dir` when it was killed; return how many.

    A run clears them itself when it ends; this is for one killed with the process that ran it. Only the file
    store leaves files behind (the memory store leaves nothing).
    """
    return FileStore(run_dir).remove_leftovers()


@contextlib.contextmanager
def collector_paused(pause: bool) -> Iterator[None]:
    """Pause Python's cyclic garbage collector if `pause`, then restore it as it was.

    The collector never untracks named tuples, so while a run's records pile up it keeps going through them;
    they hold no reference cycles, so pausing it frees nothing late. It is the whole process's collector, so
    only a caller that owns its process asks for this.
    """
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _steps_to_follow(config: SimulationConfig) -> tuple[int, ...] | None:
    """What the conductor releases: a schedule and its completion; in step mode the schedule only (more come)."""
    if config.mode == "step":
        return tuple(config.schedule or ())
    return tuple(follow(config.race(), config.schedule)[0]) if config.schedule else None


class _Race:
    def __init__(
        self, config: SimulationConfig, run_dir: Path, time_limit_s: float, store_urls: Mapping[str, str] | None
    ) -> None:
        self.config = config
        self.store = make_store(config.store, run_dir, store_urls)
        self.shares = share_out(config)
        self.results = RecordChannel.open()
        self.link: Connection | None = None
        self.launcher: subprocess.Popen[bytes] | None = None
        self.deadline = time.monotonic() + time_limit_s
        self.time_limit_s = time_limit_s
        self.records: dict[int, BuyerRecord] = {}
        self.started_ns = 0
        self.admission: TicketStore | None = None  # held from the connection check to the start (see `released`)
        self.done = False  # the launcher has joined every process and counted the tickets left
        self.remaining: int | None = None
        self.remaining_unknown: str | Fact = fact("run.remaining_unknown")
        self.lost: str | Fact | None = None  # what the store's server said when it closed a connection mid-run
        self.plan = Plan(
            strategy=config.strategy,
            lock=config.lock,
            permits=config.permits,
            lock_ttl_ms=config.lock_ttl_ms,
            max_retries=config.max_retries,
            think_ms=(0.0, 0.0) if config.schedule else delay_bounds(config.think_ms),  # the schedule sets the pace
            hold_ms=(0.0, 0.0) if config.schedule else delay_bounds(config.hold_ms),
            schedule=_steps_to_follow(config),
            seed=config.seed or 0,
            lock_timeout_s=config.lock_timeout_s,
            start_timeout_s=time_limit_s,
            parent_pid=None,  # the launcher's, filled in by the launcher
        )

    def check(self, should_stop: StopCheck | None) -> None:
        if should_stop is not None and should_stop():
            raise RunCancelled(fact("run.cancelled"))
        if time.monotonic() > self.deadline:
            raise RunTimedOut(time_limit_passed(self.time_limit_s))

    def launch(self, ready: ReadyLauncher | None = None) -> None:
        """Start the launcher (or take `ready`, one started ahead that suits this store) and give it the job."""
        if ready is not None and ready.usable(self.store.site_packages):
            self.results.close()
            self.link, self.results, self.launcher = ready.link, ready.results, ready.process
            self.link.send((self.shares, self.plan, self.store, self.config.together))
            return
        self.link, launcher_end = Pipe()
        assert self.results.writer is not None
        try:
            self.launcher = start_launcher(launcher_end, self.results.writer, site_packages=self.store.site_packages)
        except OSError as e:
            raise RunFailed(fact("run.launcher_unstarted", words=str(e))) from e
        finally:
            launcher_end.close()
            self.results.close_writer()  # only the launcher and its buyers write
        self.link.send((self.shares, self.plan, self.store, self.config.together))

    def collect(
        self, on_progress: ProgressCallback | None, should_stop: StopCheck | None, next_steps: StepFeed | None
    ) -> None:
        assert self.link is not None and self.results.reader is not None
        total = self.config.buyers
        channel = self.results.reader.fileno()
        sources: list[Connection | int] = [channel, self.link]
        next_progress = 0.0
        while len(self.records) < total or not self.done:
            for source in wait(sources, POLL_S):
                if source is self.link:
                    self._hear_launcher()
                elif not self._drain():
                    sources.remove(channel)  # every writer has closed; the launcher's news says why
            if next_steps is not None and self.started_ns:
                for buyer in next_steps():
                    self.link.send(("step", buyer))
            now = time.monotonic()
            if on_progress is not None and now >= next_progress:
                on_progress(len(self.records), total)
                next_progress = now + PROGRESS_INTERVAL_S
            self.check(should_stop)
        if on_progress is not None:
            on_progress(len(self.records), total)

    def released(self, started_ns: int) -> None:
        """The buyers are connected and released: note when, and let the next run on the store's server have
        its connections checked (see TicketStore.admit)."""
        self.started_ns = started_ns
        if self.admission is not None:
            self.admission.admitted()

    def _drain(self) -> bool:
        """Take every batch waiting in the channel; False once the channel is closed and empty."""
        while self.results.ready(0):
            try:
                batch = self.results.receive()
            except EOFError:
                return False
            for record in batch:
                self.records[record.buyer] = record
        return True

    def _hear_launcher(self) -> None:
        """One message from the launcher (see workers.launcher)."""
        assert self.link is not None and self.launcher is not None
        try:
            news = self.link.recv()
        except EOFError:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.launcher.wait(STOP_GRACE_S)
            raise RunFailed(fact("run.launcher_ended", how=exit_cause(self.launcher.poll()))) from None
        kind = news[0]
        if kind == "started":
            self.released(news[1])
        elif kind == "failed":
            raise RunFailed(news[1])
        elif kind == "died":
            _, share, pid, exitcode = news
            self._drain()  # whatever it reported before it died is in the channel already
            reason = fact("run.buyer_unreported", pid=pid, how=exit_cause(exitcode))
            self._record_missing(self.shares[share], pid, reason)
        elif kind == "lost":
            self.lost = self.lost or news[1]
        elif kind == "done":
            _, self.remaining, why = news
            self.done = True
            self.remaining_unknown = why or self.remaining_unknown
            self._drain()  # every writer is gone, so the channel holds all they sent, then its end
            self._record_missing(range(1, self.config.buyers + 1), 0, fact("run.buyer_never_reported"))

    def _record_missing(self, buyers: range, pid: int, reason: Fact) -> None:
        for buyer in buyers:
            if buyer not in self.records:
                self.records[buyer] = BuyerRecord(buyer, pid, "error", error=said(reason), error_fact=reason)

    def reap(self, cleanly: bool) -> None:
        """Join the launcher, which joins every buyer; stop it first if the run did not finish cleanly."""
        if self.launcher is not None:
            if not cleanly:
                self._ask_to_stop()
            try:
                self.launcher.wait(REAP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._ask_to_stop()
                try:
                    self.launcher.wait(3 * STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    self.launcher.kill()  # its buyers die with it (PR_SET_PDEATHSIG)
                    self.launcher.wait(REAP_GRACE_S)
        if self.link is not None:
            self.link.close()
        self.results.close()

    def annotate(self, result: Result) -> Result:
        """What this kind of race adds to the analysis: nothing here."""
        return result

    def _ask_to_stop(self) -> None:
        assert self.link is not None
        with contextlib.suppress(OSError):
            self.link.send(("stop",))


def _message(error: BaseException) -> str | Fact:
    """What `error` says: its fact where it carries one, else its words."""
    return error.message if isinstance(error, TicketrushError) else str(error)


def run_simulation(
    config: SimulationConfig,
    run_dir: Path,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    pause_collector: bool = False,
    next_steps: StepFeed | None = None,
    store_urls: Mapping[str, str] | None = None,
    dask_scheduler: str | None = None,
    launcher: ReadyLauncher | None = None,
    on_records: RecordsReady | None = None,
) -> RunReport:
    """Run one ticket rush in `run_dir` and report on it.

    Raises RunCancelled when `should_stop()` turns true, RunTimedOut past `time_limit_s`, StoreRefused before
    anything starts when the store cannot take the run (see `check_store`), StoreFailed when the store's server
    closed a connection mid-run, RunFailed when the run cannot be carried out; in every case no buyer process
    is left behind. `pause_collector` pauses this process's garbage collector while the records pile up (for
    a caller that owns its process). In step mode, `next_steps()` is asked about every 50 ms for the buyers to
    step next (each already checked with workers.schedules: a step that cannot be taken would wait until the
    time limit). `store_urls` names the server of each store that lives on one, by store kind ({"postgres":
    "postgresql://...", "redis": "redis://..."}); `dask_scheduler` the scheduler of executor 'dask'
    (tcp://host:8786, see workers.executors.dask_executor). `launcher`: one started ahead, used if it suits the
    run (the caller closes it either way). `on_records(records)` is called with every buyer's record, by buyer,
    once the race is over and before they are analysed (a caller may save them meanwhile); not when the run fails.
    """
    begun_ns = time.monotonic_ns()
    config = config.resolved()
    admission = make_store(config.store, run_dir, store_urls)
    try:
        try:
            admission.admit(time_limit_s)  # until the buyers have connected: see _Race.released
            check_store(config, store_urls)
        except StoreLost as e:
            raise RunFailed(e.message) from e
        if config.executor == "dask":
            from workers.executors.dask_executor import DaskRace

            run: _Race = DaskRace(config, run_dir, time_limit_s, store_urls, dask_scheduler)
        else:
            run = _Race(config, run_dir, time_limit_s, store_urls)
        run.admission = admission
        try:
            run.store.create(config.tickets)
        except TicketrushError as e:
            raise RunFailed(e.message) from e
        except OSError as e:
            words = e.strerror or str(e)
            raise RunFailed(
                fact("run.store_unprepared", store=store_label(run.store), folder=str(run_dir), words=words)
            ) from e
        with collector_paused(pause_collector):  # records pile up from here to the analysis
            cleanly = False
            try:
                run.launch(launcher)
                run.collect(on_progress, should_stop, next_steps if config.mode == "step" else None)
                finished_ns = time.monotonic_ns()
                cleanly = True
            finally:
                run.reap(cleanly)
                try:
                    run.store.remove_leftovers()
                except (TicketrushError, OSError) as e:
                    if cleanly:
                        raise RunFailed(
                            fact("run.store_untidied", store=store_label(run.store), error=_message(e))
                        ) from e
            records = [run.records[b] for b in sorted(run.records)]
            if run.lost is not None:
                failed = sum(r.outcome == "error" for r in records)
                finished = config.buyers - failed
                lost = fact("run.store_failed", lost=run.lost, finished=finished, buyers=config.buyers, failed=failed)
                raise StoreFailed(lost, records)
            if run.remaining is None:
                raise RunFailed(run.remaining_unknown)
            remaining = run.remaining
            if on_records is not None:
                on_records(records)
            result = analyse(
                records,
                tickets_initial=config.tickets,
                tickets_remaining=remaining,
                duration_ns=finished_ns - run.started_ns,
                store=config.store,
                strategy=config.strategy,
                lock=config.lock,
                permits=config.permits,
                schedule=from_records(config.race(), records) if config.executor == "process" else None,
                lock_ttl_ms=config.lock_ttl_ms,
                home=run.store.home(),
            )
            result = run.annotate(result)
            result.setup_ms = round((run.started_ns - begun_ns) / 1e6, 3)
        return RunReport(config=config, result=result, records=records)
    finally:
        admission.admitted()

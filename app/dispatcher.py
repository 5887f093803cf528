"""Admission control and run processes: at most `max_running` runs at once, the rest wait first in first out.

    submit(config)   limits (LimitExceeded) and room (QueueFull, ShuttingDown) checked; stored as queued; id joins
                     the FIFO
    submit_chain(n, create)  the same for n simulations at once (an experiment's trials), each to start only
                     once the one before it has finished: they never run two at once
    cancel(id)       queued: cancelled at once; running: SIGTERM to its process, wait for it, kill if it lingers
    the dispatcher thread, in a loop:
      |-- start      pop queued ids while fewer than max_running run, skipping a chained one whose predecessor
      |              has not finished; one run process each (app.runner): the one waiting ahead of need
      |              (app.standby) if there is one, else a newly spawned one
      |-- standby    keep `standby` run processes waiting for the next runs (a new one as soon as one is handed
      |              a run)
      |-- wait       on the run processes' sentinels and a wake-up socket, with a timeout
      |-- reap       join the exited; one that left its simulation unfinished makes it failed (or cancelled)
      `-- police     SIGTERM runs asked to stop (SHUTDOWN_SIGNAL when the server stops), SIGKILL them after a
                     grace; SIGKILL runs far past the time limit
    close()          cancel everything, saying why; wait for every run process (with timeouts), end the thread

The lock guards the queue and the table of runs only: every store call (SQLite, which may wait up to its busy
timeout on a slow disk) happens outside it, so that a request never waits behind another thread's I/O.

Run processes are started from this one long-lived thread on purpose: PR_SET_PDEATHSIG fires when the thread
that created a child exits, so a request thread (which the thread pool may retire) would take its run down.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import multiprocessing
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

from app.lifecycle import TERMINAL, InvalidTransition, Status
from app.runner import RUN_NICENESS, SHUTDOWN_REASON, SHUTDOWN_SIGNAL, execute
from app.settings import Settings, executor_problem, store_url_problem
from app.standby import Standby
from app.store import SimulationRow, Store
from app.store_errors import SimulationNotFound, StoreError
from workers import RunFailed, SimulationConfig, StoreLost, StoreRefused, check_cluster, check_store
from workers.errors import Told, exit_cause, time_limit_passed
from workers.speech import Fact, fact, said

logger = logging.getLogger("ticketrush")

POLL_S = 0.25
CANCEL_GRACE_S = 10.0
TIME_LIMIT_MARGIN_S = 15.0
CLOSE_TIMEOUT_S = CANCEL_GRACE_S + 10.0
STANDBY_RETRY_S = 5.0  # after a waiting run process died or could not start
RETRY_AFTER_S = 5  # a hint for 429 and 503: a slot frees when a run ends, which no one can know in advance
SHUTDOWN_BEFORE_START = fact("run.shutdown_before_start")


class LimitExceeded(Exception):
    """The simulation asks for more than this server allows."""

    def __init__(self, field: str, value: object, limit: int | None, message: str | Fact) -> None:
        super().__init__(field, value, limit, message)
        self.field = field
        self.value = value
        self.limit = limit
        self.message = message  # words, or a fact (workers.speech) said in the user's language

    def __str__(self) -> str:
        return said(self.message)


class QueueFull(Told):
    """No room for another simulation: as many are running and queued as allowed."""


class ShuttingDown(Told):
    """The server is stopping and takes no new simulation."""


@dataclass
class _Run:
    sim_id: str
    process: BaseProcess
    deadline: float
    cancel_requested: bool = False
    stop_reason: Fact | None = None  # why it is stopped, when not at a user's request
    terminated_at: float | None = None
    timed_out: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class Dispatcher:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self._after: dict[str, str] = {}  # a chained simulation -> the one it waits for (an experiment's trials)
        self._runs: dict[str, _Run] = {}
        self._admitting = 0  # submissions between their room check and their place in the queue
        self._starting: set[str] = set()  # taken from the queue, their run process not started yet
        self._closing = False
        self._standbys: list[Standby] = []  # oldest first; touched by the dispatcher thread only
        self._standby_after = 0.0  # no new one before this time (monotonic)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._loop, name="ticketrush-dispatcher", daemon=True)

    # -- called by the server -------------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Mark what a previous server life left unfinished as interrupted, then start dispatching.

        Returns the ids that were interrupted.
        """
        interrupted = []
        for row in self.store.active():
            self._settle(row.id, Status.INTERRUPTED, error=fact("run.interrupted", status=fact(f"status.{row.status}")))
            try:
                self.store.clear_leftovers(row.id)
            except OSError as e:
                logger.warning("could not clear the leftovers of interrupted simulation %s: %s", row.id, e)
            interrupted.append(row.id)
        atexit.register(self._kill_all)
        self._thread.start()
        return interrupted

    def check_limits(self, config: SimulationConfig) -> None:
        s = self.settings
        if config.buyers > s.max_buyers:
            raise LimitExceeded(
                "buyers",
                config.buyers,
                s.max_buyers,
                fact("dispatcher.max_buyers", n=s.max_buyers),
            )
        if config.executor == "process" and config.buyers > s.max_process_buyers:
            raise LimitExceeded(
                "buyers",
                config.buyers,
                s.max_process_buyers,
                fact("dispatcher.max_process_buyers", n=s.max_process_buyers),
            )
        self._check_store(config)

    def _check_store(self, config: SimulationConfig) -> None:
        """A store on a server needs its URL, and a server that takes as many connections as the run opens; a dask
        run, a cluster with a worker thread for each of its tasks."""
        problem = store_url_problem(config.store, self.settings.store_urls())
        if problem is not None:
            raise LimitExceeded("store", config.store, None, problem)
        problem = executor_problem(config.executor, self.settings.dask_scheduler)
        if problem is not None:
            raise LimitExceeded("executor", config.executor, None, problem)
        try:
            check_store(config, self.settings.store_urls())
            if config.executor == "dask":
                check_cluster(config, self.settings.dask_scheduler)
        except StoreRefused as e:
            raise LimitExceeded(e.field, e.value, e.limit, e.message) from e
        except (StoreLost, RunFailed):
            pass  # a server that cannot be reached now fails the run with its own words, if it still cannot

    def submit(self, config: SimulationConfig) -> SimulationRow:
        """Store a new simulation, queued, with its seed chosen; raise LimitExceeded, QueueFull or ShuttingDown."""
        self.check_limits(config)
        (row,) = self._admit(1, lambda: [self.store.create(config.resolved())], chained=False)
        return row

    def submit_chain(self, count: int, create: Callable[[], list[SimulationRow]]) -> list[SimulationRow]:
        """Queue `count` simulations that `create` stores (an experiment's trials), to run one after another.

        Each starts only once the one before it has finished, whatever max_running allows; other simulations
        still take the free slots. All of them find room in the queue, or none is stored (QueueFull).
        """
        return self._admit(count, create, chained=True)

    def _admit(self, count: int, create: Callable[[], list[SimulationRow]], *, chained: bool) -> list[SimulationRow]:
        room = self.settings.max_running + self.settings.max_queued
        with self._lock:
            if self._closing:
                raise ShuttingDown(fact("dispatcher.shutting_down"))
            taken = len(self._queue) + len(self._starting) + len(self._runs) + self._admitting
            if taken + count > room:
                limits = dict(running=self.settings.max_running, queued=self.settings.max_queued, room=room)
                raise QueueFull(
                    fact("dispatcher.queue_full", **limits)
                    if count == 1
                    else fact("dispatcher.queue_full_for", **limits, count=count, free=room - taken)
                )
            self._admitting += count  # its room is kept while it is stored
        try:
            rows = create()
        finally:
            with self._lock:
                self._admitting -= count
        with self._lock:
            closing = self._closing
            if not closing:
                self._queue.extend(row.id for row in rows)
                if chained:
                    self._after.update((later.id, earlier.id) for earlier, later in itertools.pairwise(rows))
        if closing:  # close() came while they were being stored, and has cancelled the queue without them
            for row in rows:
                self._settle(row.id, Status.CANCELLED, error=SHUTDOWN_BEFORE_START)
            raise ShuttingDown(fact("dispatcher.shutting_down"))
        self._wake()
        return rows

    def cancel(self, sim_id: str) -> None:
        """Stop a queued or running simulation and wait until its processes are gone.

        Raises SimulationNotFound, or InvalidTransition when it has finished (even if only just now).
        """
        row = self.store.get(sim_id)
        if row is None:
            raise SimulationNotFound(sim_id)
        if row.status in TERMINAL:
            raise InvalidTransition(sim_id, row.status, Status.CANCELLED)
        with self._lock:
            place = self._queue.index(sim_id) if sim_id in self._queue else None
            if place is not None:
                del self._queue[place]  # out of the queue: nothing can start it now
                link = self._unchain(sim_id)
            run = self._runs.get(sim_id)
            if run is not None:
                run.cancel_requested = True
        if place is not None:
            try:
                self.store.transition(sim_id, Status.CANCELLED)
            except StoreError:
                with self._lock:
                    self._queue.insert(place, sim_id)  # still queued in the store: back in its place
                    self._rechain(sim_id, *link)
                raise
            return
        if run is None:  # between the queue and its process: the run process will find it cancelled
            self.store.transition(sim_id, Status.CANCELLED)
            return
        self._wake()
        if not run.done.wait(CANCEL_GRACE_S + 5.0):
            logger.error("the run process of %s did not stop within %.0f s", sim_id, CANCEL_GRACE_S + 5.0)
        final = self.store.get(sim_id)
        if final is not None and final.status in TERMINAL - {Status.CANCELLED}:
            raise InvalidTransition(sim_id, final.status, Status.CANCELLED)

    def close(self) -> None:
        """Cancel every queued and running simulation and wait for their processes (bounded)."""
        with self._lock:
            self._closing = True
            queued = list(self._queue)
            self._queue.clear()
            self._after.clear()
            for run in self._runs.values():
                run.cancel_requested = True
                run.stop_reason = SHUTDOWN_REASON
        for sim_id in queued:
            self._settle(sim_id, Status.CANCELLED, error=SHUTDOWN_BEFORE_START)
        self._wake()
        if self._thread.is_alive():
            self._thread.join(CLOSE_TIMEOUT_S)
        if self._thread.is_alive():
            logger.error("the dispatcher did not stop within %.0f s; killing the run processes", CLOSE_TIMEOUT_S)
            self._kill_all()
            return
        atexit.unregister(self._kill_all)
        self._wake_r.close()
        self._wake_w.close()

    # -- the dispatcher thread ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                self._start_queued()
                self._keep_standby()
                self._wait()
                self._reap()
                self._enforce_stops()
            except Exception:
                logger.exception("dispatcher step failed")
                time.sleep(POLL_S)
            with self._lock:
                if self._closing and not self._runs:
                    self._end_standby()
                    return

    def _start_queued(self) -> None:
        while (sim_id := self._next_queued()) is not None:
            self._launch(sim_id)

    def _next_queued(self) -> str | None:
        """The first queued simulation that may start: a slot is free and, if chained, the one before it is done."""
        with self._lock:
            if self._queue and len(self._starting) + len(self._runs) < self.settings.max_running and not self._closing:
                pending = {*self._queue, *self._starting, *self._runs} if self._after else set()
                for place, sim_id in enumerate(self._queue):
                    if self._after.get(sim_id) not in pending:
                        del self._queue[place]
                        self._after.pop(sim_id, None)
                        self._starting.add(sim_id)
                        return sim_id
        return None

    def _unchain(self, sim_id: str) -> tuple[str | None, str | None]:
        """Take `sim_id` out of its chain (under the lock): whoever waited for it waits for what it waited for.

        Returns (what it waited for, who waited for it), for `_rechain`.
        """
        earlier = self._after.pop(sim_id, None)
        later = next((waiting for waiting, before in self._after.items() if before == sim_id), None)
        if later is not None:
            if earlier is None:
                del self._after[later]
            else:
                self._after[later] = earlier
        return earlier, later

    def _rechain(self, sim_id: str, earlier: str | None, later: str | None) -> None:
        """Undo `_unchain` (under the lock)."""
        if earlier is not None:
            self._after[sim_id] = earlier
        if later is not None:
            self._after[later] = sim_id

    def _launch(self, sim_id: str) -> None:
        """Start the run process of `sim_id` (outside the lock: a spawn takes a while), then count it as running."""
        run = None
        try:
            run = self._start_process(sim_id)
        finally:
            with self._lock:
                self._starting.discard(sim_id)
                if run is not None:
                    self._runs[sim_id] = run
                    if self._closing:
                        run.cancel_requested, run.stop_reason = True, SHUTDOWN_REASON

    def _start_process(self, sim_id: str) -> _Run | None:
        """The started run process of `sim_id`; None if it is no longer queued or its process could not start."""
        try:
            row = self.store.get(sim_id)
        except StoreError:
            with self._lock:
                self._queue.appendleft(sim_id)  # first in line again once the store answers
            raise
        if row is None or row.status != Status.QUEUED:
            return None
        args = (
            sim_id,
            row.config.model_dump_json(),
            str(self.store.data_dir),
            self.settings.run_timeout_s,
            os.getpid(),
            self.settings.store_urls(),
            self.settings.dask_scheduler,
        )
        name = f"ticketrush-run-{sim_id}"
        try:
            process = self._handed(args, name)
            if process is None:
                process = self._context.Process(target=execute, args=args, name=name)
                process.start()
        except OSError as e:
            self._settle(sim_id, Status.FAILED, error=fact("run.process_unstarted", words=str(e)))
            return None
        if process.pid is not None:  # niced at once, so that its start-up (imports) yields to the API too
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, process.pid, RUN_NICENESS)
        return _Run(sim_id, process, time.monotonic() + self.settings.run_timeout_s + TIME_LIMIT_MARGIN_S)

    def _handed(self, args: tuple[object, ...], name: str) -> BaseProcess | None:
        """The oldest waiting run process that is still alive, handed `args`; None if there is none."""
        while self._standbys:
            standby = self._standbys.pop(0)
            if standby.usable():
                with contextlib.suppress(OSError):
                    return standby.hand(args, name)
            standby.close()
        return None

    def _keep_standby(self) -> None:
        """Keep `settings.standby` run processes waiting for the next runs; replace those that died."""
        dead = [standby for standby in self._standbys if not standby.usable()]
        for standby in dead:
            self._standbys.remove(standby)
            standby.close()
        if dead:
            self._standby_after = time.monotonic() + STANDBY_RETRY_S  # not at every turn if they cannot start
        while not self._closing and len(self._standbys) < self.settings.standby:
            if time.monotonic() < self._standby_after:
                return
            try:
                standby = Standby(self._context, os.getpid())
            except OSError as e:
                logger.warning("could not start a run process ahead of need: %s", e)
                self._standby_after = time.monotonic() + STANDBY_RETRY_S
                return
            with contextlib.suppress(OSError):  # its imports yield to the API and to a run's buyers
                os.setpriority(os.PRIO_PROCESS, standby.pid, RUN_NICENESS)
            self._standbys.append(standby)

    def _end_standby(self) -> None:
        standbys, self._standbys = self._standbys, []
        for standby in standbys:
            standby.close()

    def _wait(self) -> None:
        with self._lock:
            sentinels = [run.process.sentinel for run in self._runs.values()]
        ready = wait([*sentinels, self._wake_r], timeout=POLL_S)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while self._wake_r.recv(4096):
                    pass

    def _reap(self) -> None:
        with self._lock:
            exited = [r for r in self._runs.values() if not r.process.is_alive()]
        for run in exited:
            run.process.join(timeout=1.0)
            self._settle_exited(run)  # a StoreError leaves the run in the table, to be settled on the next round
            with self._lock:
                del self._runs[run.sim_id]
            run.process.close()
            run.done.set()

    def _settle_exited(self, run: _Run) -> None:
        row = self.store.get(run.sim_id)
        if row is None or row.status in TERMINAL:
            return
        if run.timed_out:
            self._settle(run.sim_id, Status.FAILED, error=time_limit_passed(self.settings.run_timeout_s))
        elif run.cancel_requested:
            self._settle(run.sim_id, Status.CANCELLED, error=run.stop_reason)
        else:
            cause = exit_cause(run.process.exitcode)
            self._settle(run.sim_id, Status.FAILED, error=fact("run.process_ended", how=cause))

    def _enforce_stops(self) -> None:
        now = time.monotonic()
        with self._lock:
            for run in self._runs.values():
                if run.cancel_requested and run.terminated_at is None:
                    if run.stop_reason is None:
                        run.process.terminate()
                    elif run.process.pid is not None:  # the run process then says why it stopped
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(run.process.pid, SHUTDOWN_SIGNAL)
                    run.terminated_at = now
                elif run.terminated_at is not None and now - run.terminated_at > CANCEL_GRACE_S:
                    logger.warning("run %s ignored SIGTERM for %.0f s; killing it", run.sim_id, CANCEL_GRACE_S)
                    run.process.kill()
                elif now > run.deadline and not run.timed_out:
                    logger.warning("run %s is past its time limit; killing it", run.sim_id)
                    run.timed_out = True
                    run.process.kill()

    # -- helpers --------------------------------------------------------------------------------------------

    def _settle(self, sim_id: str, status: Status, error: str | Fact | None = None) -> None:
        """Move a simulation to a final status unless it got there first."""
        with contextlib.suppress(InvalidTransition):
            self.store.transition(sim_id, status, error=error)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"!")

    def _kill_all(self) -> None:
        """Last resort at interpreter exit: SIGKILL every run process (their buyers die with them)."""
        for standby in list(self._standbys):
            with contextlib.suppress(ValueError, OSError):
                standby.process.kill()
                standby.process.join(timeout=1.0)
        for run in list(self._runs.values()):
            with contextlib.suppress(ValueError, OSError):
                run.process.kill()
                run.process.join(timeout=1.0)

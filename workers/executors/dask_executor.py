"""This host's side of a dask run: the buyers shared out in batched tasks over a Dask cluster's workers.

    DaskRace (a coordinator race: launch, collect, reap)
      |-- connect   a distributed Client to the scheduler named by the caller (tcp://host:8786); more tasks
      |             than the cluster has worker threads, or than the store's server takes connections, are
      |             refused (StoreRefused), before the store is made
      |-- share     the buyers, interleaved, in `workers` tasks (default one per worker thread of the cluster;
      |             never one task per buyer); each opens one connection to the store
      |-- clock     this host's offset to the store server's clock, as every task measures its own
      |-- submit    one task per share (workers.executors.dask_tasks.buy_share), pure=False, no retries
      |-- collect   the run's Queue: ("ready", ...) from each task; once every task is ready, the start Event
      |             releases them all; ("records", share, batch) as they buy, each record naming its host, put
      |             on this host's clock; ("lost", share, words) when the store's server closed a connection on
      |             a task: the stop Event is set and the run fails with those words (StoreFailed) once every
      |             task has stopped, keeping every record; ("end")
      |             A task whose future ends without its records (its worker was lost, and the rerun found its
      |             share claimed) makes its unreported buyers errors. Cancel and the time limit set the stop
      |             Event, which every task looks at after each batch.
      `-- reap      stop Event set (unless the run finished), the futures waited for and cancelled, the run's
                    objects on the scheduler removed, the client closed

The tickets left are read by this host from the store, which every host reaches.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workers.analysis import Result
from workers.config import SimulationConfig
from workers.coordinator import REAP_GRACE_S, ProgressCallback, StepFeed, StopCheck, _Race
from workers.errors import RunFailed, StoreLost, StoreRefused, TicketrushError
from workers.executors.clocks import ClockReading, clock_id, read_clock
from workers.executors.dask_tasks import RunNames, buy_share
from workers.launch import ReadyLauncher
from workers.messages import TIMESTAMPS, BuyerRecord
from workers.speech import Fact, fact, said, say

CONNECT_TIMEOUT_S = 10.0
POLL_S = 0.05
PROGRESS_INTERVAL_S = 0.1
_TIMESTAMP_AT = [BuyerRecord._fields.index(name) for name in TIMESTAMPS]


def scheduler_problem(scheduler: str | None) -> Fact | None:
    """Why a dask run cannot start with this scheduler address; None when it can try."""
    if not scheduler:
        return fact("cluster.no_scheduler")
    return None


def _connect(scheduler: str) -> Any:
    from distributed import Client

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise RunFailed(fact("cluster.unreachable", scheduler=scheduler, words=str(e))) from e


def _tasks(config: SimulationConfig, client: Any, scheduler: str) -> int:
    """How many tasks the run is shared out in; StoreRefused (field `workers`) when they cannot all run at once
    but the run needs them to (they wait at one start line), RunFailed when the cluster has no workers."""
    threads = sum(client.nthreads().values())
    if threads == 0:
        raise RunFailed(fact("cluster.no_workers", scheduler=scheduler))
    tasks = min(config.workers or threads, config.buyers)
    if config.together and tasks > threads:
        raise StoreRefused(
            fact("cluster.too_many_tasks", tasks=tasks, threads=threads, scheduler=scheduler),
            "workers",
            tasks,
            threads,
        )
    return tasks


def check_cluster(config: SimulationConfig, scheduler: str | None) -> None:
    """Refuse a dask run its cluster cannot take, before anything starts: StoreRefused without a scheduler or
    with more tasks (`workers`) than the cluster's worker threads; RunFailed when the cluster cannot be asked."""
    problem = scheduler_problem(scheduler)
    if problem is not None:
        raise StoreRefused(problem, "executor", "dask")
    assert scheduler is not None
    client = _connect(scheduler)
    try:
        _tasks(config.resolved(), client, scheduler)
    finally:
        client.close(timeout=CONNECT_TIMEOUT_S)


class DaskRace(_Race):
    def __init__(
        self,
        config: SimulationConfig,
        run_dir: Path,
        time_limit_s: float,
        store_urls: Mapping[str, str] | None,
        scheduler: str | None,
    ) -> None:
        problem = scheduler_problem(scheduler)
        if problem is not None:
            raise StoreRefused(problem, "executor", "dask")
        assert scheduler is not None
        super().__init__(config, run_dir, time_limit_s, store_urls)
        self.results.close()  # the records come over the cluster's Queue, not a pipe
        self.scheduler = scheduler
        self.names = RunNames.of(f"ticketrush-{uuid.uuid4().hex}")
        self.client: Any = _connect(scheduler)
        try:
            self.tasks = self._tasks_taken()
        except BaseException:
            self.client.close(timeout=CONNECT_TIMEOUT_S)
            self.client = None
            raise
        self.futures: list[Any] = []
        self.ready: set[int] = set()
        self.ended: dict[int, str | None] = {}
        self.settled: set[int] = set()
        self.readings: dict[int, ClockReading] = {}
        self.best: dict[str, ClockReading] = {}  # per clock (boot id): the reading with the smallest error
        self.own: ClockReading | None = None
        self.queue: Any = None
        self.start: Any = None
        self.stop: Any = None

    def _tasks_taken(self) -> int:
        """The run's tasks, once the cluster and the store's server are known to take that many at once."""
        tasks = _tasks(self.config, self.client, self.scheduler)
        try:
            problem = self.store.connection_problem(tasks, fact("connections.per_dask_task"))
        except StoreLost as e:
            raise RunFailed(e.message) from e
        if problem is not None:
            raise StoreRefused(problem, "workers", tasks)
        return tasks

    # -- launch -----------------------------------------------------------------------------------------------

    def launch(self, ready: ReadyLauncher | None = None) -> None:
        """Submit the buyers' tasks to the cluster (a launcher started ahead has no part in it)."""
        from distributed import Event, Queue

        tasks = self.tasks
        self.shares = [range(k + 1, self.config.buyers + 1, tasks) for k in range(tasks)]
        self.own = read_clock(self.store)
        self.queue = Queue(self.names.records, client=self.client)
        self.start = Event(self.names.start, client=self.client)
        self.stop = Event(self.names.stop, client=self.client)
        if not self.config.together:
            self.start.set()
            self.released(time.monotonic_ns())
        self.futures = [
            self.client.submit(
                buy_share,
                self.names,
                n,
                (share.start, share.stop, share.step),
                self.plan,
                self.store,
                self.time_limit_s,
                pure=False,
                retries=0,
            )
            for n, share in enumerate(self.shares)
        ]

    # -- collect ----------------------------------------------------------------------------------------------

    def collect(
        self, on_progress: ProgressCallback | None, should_stop: StopCheck | None, next_steps: StepFeed | None
    ) -> None:
        total = self.config.buyers
        next_progress = 0.0
        while len(self.settled) < len(self.shares):
            self._take(POLL_S)
            if not self.started_ns and len(self.ready | self.ended.keys()) == len(self.shares):
                self.released(time.monotonic_ns())
                self.start.set()
            self._settle_finished()
            now = time.monotonic()
            if on_progress is not None and now >= next_progress:
                on_progress(len(self.records), total)
                next_progress = now + PROGRESS_INTERVAL_S
            self.check(should_stop)
        try:
            self.remaining = self.store.final_count()
        except TicketrushError as e:
            self.remaining_unknown = e.message
        self.done = True
        self._record_missing(range(1, total + 1), 0, fact("run.buyer_never_reported"))
        if on_progress is not None:
            on_progress(len(self.records), total)

    def _take(self, timeout: float) -> None:
        """Whatever the tasks have put on the Queue, waiting at most `timeout` for the first message."""
        try:
            messages = [self.queue.get(timeout=timeout)]
        except TimeoutError:
            return
        messages += self.queue.get(batch=True)
        for message in messages:
            kind, share = message[0], message[1]
            if kind == "records":
                shift = self._shift(share)
                for fields in message[2]:
                    record = BuyerRecord._make(fields)
                    self.records[record.buyer] = _shifted(record, shift) if shift else record
            elif kind == "lost":
                self.lost = self.lost or message[2]
                self.stop.set()  # every task stops after the batch it is on
            elif kind == "ready":
                reading = ClockReading(*message[2:6])
                self.readings[share] = reading
                best = self.best.get(reading.clock)
                if best is None or reading.error_ns < best.error_ns:
                    self.best[reading.clock] = reading
                self.ready.add(share)
            elif kind == "end":
                self.ended[share] = message[2]

    def _shift(self, share: int) -> int:
        """What puts the timestamps of `share`'s host on this host's clock (0 for a host of the same clock)."""
        reading = self.readings.get(share)
        if reading is None or self.own is None or reading.clock == self.own.clock:
            return 0
        return self.best[reading.clock].offset_ns - self.own.offset_ns

    def _settle_finished(self) -> None:
        """Shares whose task has ended: an ended task's messages are all on the Queue before its future is."""
        finished = [n for n, f in enumerate(self.futures) if n not in self.settled and f.done()]
        if not finished:
            return
        self._take(0)
        for n in finished:
            future = self.futures[n]
            how = future.result() if future.status == "finished" else None
            if how == "late":
                reason = fact("dask.buyer_lost")
            elif future.status != "finished":
                reason = fact("dask.buyer_task_failed", error=repr(future.exception()))
            elif self.lost is not None and how == "stopped":
                reason = fact("dask.buyer_never_ran")
            else:
                reason = fact("dask.buyer_task_ended", how=self.ended.get(n) or how)
            error = said(reason)
            reading = self.readings.get(n)
            host = reading.host if reading is not None else None
            for buyer in self.shares[n]:
                if buyer not in self.records:
                    self.records[buyer] = BuyerRecord(buyer, 0, "error", error=error, host=host, error_fact=reason)
            self.settled.add(n)

    # -- reap and what the analysis adds ----------------------------------------------------------------------

    def reap(self, cleanly: bool) -> None:
        if self.client is None:
            return
        from distributed import Variable

        try:
            if self.stop is not None and not cleanly:
                self.stop.set()  # the tasks stop after the batch they are on
                deadline = time.monotonic() + REAP_GRACE_S
                for future in self.futures:
                    with contextlib.suppress(Exception):  # how it ended no longer matters, only that it did
                        future.result(timeout=max(0.0, deadline - time.monotonic()))
            self.client.cancel(self.futures, force=True)
            for n in range(len(self.shares)):
                with contextlib.suppress(Exception):
                    Variable(f"{self.names.claims}{n}", client=self.client).delete()
            for event in (self.start, self.stop):
                if event is not None:
                    with contextlib.suppress(Exception):
                        event.clear()
            if self.queue is not None:
                with contextlib.suppress(Exception):
                    self.queue.close()
        finally:
            self.client.close(timeout=CONNECT_TIMEOUT_S)
            self.client = None

    def annotate(self, result: Result) -> Result:
        """The analysis says where the buyers ran and which of their timestamps compare."""
        facts = [*result.explanation_facts, self.clock_note()]
        return result.model_copy(update={"explanation": say(facts), "explanation_facts": facts})

    def clock_note(self) -> Fact:
        """Timestamps of one clock (one kernel boot: a machine, its containers and network namespaces) compare
        exactly; across two clocks, to within how far each was placed off this host's clock, added."""
        hosts = sorted({reading.host for reading in self.readings.values()})
        where = {
            "tasks": fact("n.dask_tasks", n=len(self.shares)),
            "hosts": fact("n.hosts", n=len(hosts), names={"names": hosts, "size": len(hosts)}),
        }
        clocks = {reading.clock for reading in self.readings.values()}
        if len(clocks) <= 1:
            return fact("dask.one_clock", **where)
        worst = sorted((self._placement_error(c) for c in clocks), reverse=True)[:2]
        return fact("dask.clocks", **where, clocks=len(clocks), error_ms=f"{sum(worst) / 1e6:.2f}")

    def _placement_error(self, clock: str) -> int:
        """How far the records of `clock` may lie off this host's clock: none on this host's own; else the
        errors of that clock's offset and of this host's."""
        if self.own is None or clock == self.own.clock:
            return 0
        return self.best[clock].error_ns + self.own.error_ns


def _shifted(record: BuyerRecord, shift: int) -> BuyerRecord:
    fields: list[Any] = list(record)
    for at in _TIMESTAMP_AT:
        if fields[at] is not None:
            fields[at] += shift
    return BuyerRecord._make(fields)


__all__ = ["DaskRace", "check_cluster", "clock_id", "scheduler_problem"]

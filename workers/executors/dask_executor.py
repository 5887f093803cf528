"""This host's side of a dask run: the buyers shared out in batched tasks over a Dask cluster's workers.

    DaskRace (a coordinator race: launch, collect, reap)
      |-- connect   a distributed Client to the scheduler named by the caller (tcp://host:8786)
      |-- share     the buyers, interleaved, in `workers` tasks (default one per worker thread of the cluster;
      |             never one task per buyer); each opens one connection to the store
      |-- clock     this host's offset to the store server's clock, as every task measures its own
      |-- submit    one task per share (workers.executors.dask_tasks.buy_share), pure=False, no retries
      |-- collect   the run's Queue: ("ready", ...) from each task; once every task is ready, the start Event
      |             releases them all; ("records", share, batch) as they buy, put on this host's clock; ("end")
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
from workers.errors import RunFailed, StoreRefused, TicketrushError
from workers.executors.clocks import ClockReading, clock_id, read_clock
from workers.executors.dask_tasks import RunNames, buy_share
from workers.messages import TIMESTAMPS, BuyerRecord

CONNECT_TIMEOUT_S = 10.0
POLL_S = 0.05
PROGRESS_INTERVAL_S = 0.1
_TIMESTAMP_AT = [BuyerRecord._fields.index(name) for name in TIMESTAMPS]


def scheduler_problem(scheduler: str | None) -> str | None:
    """Why a dask run cannot start with this scheduler address; None when it can try."""
    if not scheduler:
        return "executor 'dask' needs the address of a Dask scheduler (tcp://host:8786), and none was given"
    return None


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
        super().__init__(config, run_dir, time_limit_s, store_urls)
        self.results.close()  # the records come over the cluster's Queue, not a pipe
        self.scheduler = scheduler
        self.names = RunNames.of(f"ticketrush-{uuid.uuid4().hex}")
        self.client: Any = None
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

    # -- launch -----------------------------------------------------------------------------------------------

    def launch(self) -> None:
        from distributed import Client, Event, Queue

        try:
            self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise RunFailed(f"could not reach the Dask scheduler at {self.scheduler}: {e}") from e
        threads = sum(self.client.nthreads().values())
        if threads == 0:
            raise RunFailed(f"the Dask cluster at {self.scheduler} has no workers")
        tasks = min(self.config.workers or threads, self.config.buyers)
        if self.config.together and tasks > threads:
            raise RunFailed(
                f"workers {tasks} is more tasks than the {threads} worker threads of the Dask cluster at "
                f"{self.scheduler}: every task waits at the start line, so all must run at once"
            )
        problem = self.store.connection_problem(tasks, "one per dask task")
        if problem is not None:
            raise StoreRefused(problem, "workers", tasks)
        self.shares = [range(k + 1, self.config.buyers + 1, tasks) for k in range(tasks)]
        self.own = read_clock(self.store)
        self.queue = Queue(self.names.records, client=self.client)
        self.start = Event(self.names.start, client=self.client)
        self.stop = Event(self.names.stop, client=self.client)
        if not self.config.together:
            self.start.set()
            self.started_ns = time.monotonic_ns()
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
                self.started_ns = time.monotonic_ns()
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
            self.remaining_unknown = str(e)
        self.done = True
        self._record_missing(range(1, total + 1), 0, "the buyer was never reported")
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
                error = "its dask worker was lost mid-run, before it reported this buyer"
            elif future.status != "finished":
                error = f"its dask task failed: {future.exception()!r}"
            else:
                error = f"its dask task ended ({self.ended.get(n) or how}) before it reported this buyer"
            self._record_missing(self.shares[n], 0, error)
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
        """The analysis says which timestamps compare: those of one clock exactly, across clocks to within the
        offsets' error."""
        return result.model_copy(update={"explanation": f"{result.explanation} {self.clock_note()}"})

    def clock_note(self) -> str:
        clocks: dict[str, set[str]] = {}
        for reading in self.readings.values():
            clocks.setdefault(reading.clock, set()).add(reading.host)
        hosts = sorted({reading.host for reading in self.readings.values()})
        names = ", ".join(hosts) or "no host"
        tasks = len(self.shares)
        if len(clocks) <= 1 and (self.own is None or set(clocks) <= {self.own.clock}):
            return (
                f"The buyers ran in {tasks} dask tasks on {names}, which share this machine's clock: every "
                "timestamp compares exactly with every other."
            )
        errors = [self.best[c].error_ns for c in clocks if self.own is None or c != self.own.clock]
        worst_ms = max(errors, default=0) / 1e6
        return (
            f"The buyers ran in {tasks} dask tasks on {len(clocks)} clocks ({names}): timestamps of one host compare "
            f"exactly; those of different hosts were put on one clock through the store server's clock, to within "
            f"{worst_ms:.2f} ms, so which of two buyers on different hosts read or wrote first is known only where "
            f"their moments lie further apart than that."
        )


def _shifted(record: BuyerRecord, shift: int) -> BuyerRecord:
    fields: list[Any] = list(record)
    for at in _TIMESTAMP_AT:
        if fields[at] is not None:
            fields[at] += shift
    return BuyerRecord._make(fields)


__all__ = ["DaskRace", "clock_id", "scheduler_problem"]

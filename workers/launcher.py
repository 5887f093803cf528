"""The launcher: the buyers' parent, a small process started afresh for every run.

Forking costs in proportion to the size of the process that forks: the child gets a copy of its page tables,
and from then on parent and child each pay a copy-on-write fault for every page they write. A server's run
process, or any program that has imported pydantic, is several times the size of a bare interpreter,
and a run forks a thousand buyers. So the coordinator does not fork them itself: it starts this module as
`python -S -P -m workers.launcher`, which imports only the buyer's side of the engine (from the engine's own
folder: -P keeps out a `workers` package in the caller's current folder), and the launcher forks, releases
and reaps the buyers. It has one thread, so forking is safe whatever the caller runs.

    coordinator                           launcher                        buyers
      | job: shares, plan, store -------->  | what the buyers share (the store's shared memory, the
      |                                    | strategy's lock or seller), the start line
      |                                    | a rehearsal: a few buyers on a scratch store (see `rehearse`)
      |                                    | the strategy's helpers (the seller), then
      |                                    | one process per share ---------> wait at the start line
      |                                    | (a store on a server: until each has connected)
      | <------------ ("started", ns)      | start.release() -----------------> buy
      | <========== records, over the result channel, straight from the buyers ===========|
      | <---- ("died", share, pid, code)   | a buyer process that exited with a non-zero code
      | <------------ ("lost", message)    | the store's server closed a connection (the first to say so)
      | <------------- ("failed", reason)  | a buyer could not be forked, or a helper died mid-run
      | <----------- ("done", count, why)  | every process joined, the tickets left (or why unknown)
      | anything, or its end closed ----->  | stop: terminate, then kill, and join every buyer

The link is a duplex multiprocessing Pipe, whose end the launcher reads and writes as a FramedEnd
(workers.frames); the launcher dies with the coordinator and the buyers die with the launcher
(PR_SET_PDEATHSIG), so no buyer outlives the run whatever is killed. The coordinator starts a launcher with
workers.launch.

A child forked from a process that imported threading runs threading's after-fork hook, and a process that
weighs more costs more to fork and to exit from: so the launcher imports neither subprocess nor
multiprocessing unless the run's strategy shares a multiprocessing lock, semaphore or shared memory
(workers.process.fork_context); `python -m bench.forkweight` measures what each import adds to forking.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import sys
import time

from workers.buyer import buyer_process, run_buyers
from workers.channel import RecordChannel
from workers.errors import TicketrushError, exit_cause
from workers.frames import FramedEnd
from workers.gates import ScheduleGate, StartLine
from workers.hygiene import die_with_parent
from workers.process import ChildExits, LeanProcess, fork_context
from workers.speech import Fact, fact
from workers.stores.base import TicketStore, loss_heard
from workers.strategies import Plan, strategy_class

Job = tuple[list[range], Plan, TicketStore, bool]  # each process's buyers, the plan, the store, start together?

JOB_TIMEOUT_S = 30.0
STOP_GRACE_S = 1.0
WATCH_TIMEOUT_S = 1.0
CHECK_EVERY = 50  # buyer processes started between two looks for a stop request
REHEARSALS = 20  # buyers run before forking: enough for CPython to specialise their code (200 did no better)
CONNECT_WAIT_S = 30.0  # the longest the buyers wait at the start line for every one to connect to a server
REHEARSAL_LOCK_WAIT_S = 0.01  # a rehearsed buyer's lock timeout: only another tool can hold the run's lock then


def rehearse(plan: Plan, store: TicketStore) -> None:
    """Run a few buyers here, on a scratch copy of the store, before forking the real ones.

    CPython rewrites a function's bytecode in place while it warms up and specialises it. A buyer process runs code
    that its parent never ran, so every buyer rewrote the same code objects, and each page it wrote was a
    copy-on-write fault. Buyers forked after a rehearsal inherit their code already specialised. A file store's
    scratch files are named like a writer's temporary files, so its `remove_leftovers` deletes them: here when the
    rehearsal ends, and in the run's own clean-up if the launcher was killed first. The rehearsal stops at the
    first buyer that fails (another tool holding the run's file lock, a db that cannot be written), which the real
    buyers will report.
    """
    scratch = store.scratch()
    if scratch is None or not strategy_class(plan.strategy).rehearsable:
        return
    context = fork_context()
    plan = plan._replace(
        think_ms=(0.0, 0.0),
        hold_ms=(0.0, 0.0),
        lock_timeout_s=REHEARSAL_LOCK_WAIT_S,
        parent_pid=None,
    )
    channel = RecordChannel.open()
    try:
        scratch.create(REHEARSALS // 2)  # half the rehearsed buyers find a ticket
        scratch.share(context)
        strategy = strategy_class(plan.strategy)(plan, scratch, context, [range(1, REHEARSALS + 1)])
        line = StartLine()
        line.wait(0)  # its code warmed too
        line.close()
        for buyer in range(1, REHEARSALS + 1):
            run_buyers(range(buyer, buyer + 1), strategy, channel)
            while channel.ready(0):
                if any(record.outcome in ("error", "gave_up") for record in channel.receive()):
                    return
    except (TicketrushError, OSError):
        pass  # a rehearsal only saves time; the real buyers report any failure themselves
    finally:
        channel.close()
        with contextlib.suppress(OSError, TicketrushError):
            scratch.remove_leftovers()  # its version files (optimistic), then the scratch db itself
            store.remove_leftovers()


class Conductor:
    """Releases a scheduled run's steps one at a time, each once the one before it is done."""

    def __init__(self, gate: ScheduleGate, schedule: tuple[int, ...]) -> None:
        self.gate = gate
        self.schedule = list(schedule)
        self.position = 0  # entries released so far
        self.pending = False  # the step released last is not done yet

    @property
    def finished(self) -> bool:
        return not self.pending and self.position >= len(self.schedule)

    def add(self, buyer: int) -> None:
        """One more step (step mode), released as soon as the steps before it are done."""
        self.schedule.append(buyer)
        self.next()

    def next(self) -> None:
        if not self.pending and self.position < len(self.schedule):
            self.gate.release(self.schedule[self.position])
            self.position += 1
            self.pending = True

    def heard(self) -> Fact | None:
        """Take one ack and release the next step; a problem to fail the run with, or None."""
        buyer = self.gate.heard()
        expected = self.schedule[self.position - 1]
        if buyer == -expected:
            return fact("run.step_failed", buyer=expected, step=self.position)
        if buyer != expected:
            return fact("run.step_mismatch", buyer=buyer, step=self.position, expected=expected)
        self.pending = False
        self.next()
        return None


class Stop(Exception):
    """The coordinator asked for a stop, or is gone."""


class _Launcher:
    def __init__(self, link: FramedEnd, results: RecordChannel, job: Job) -> None:
        shares, plan, store, together = job
        context = fork_context()
        self.link = link
        self.results = results
        self.shares = shares
        self.plan = plan._replace(parent_pid=os.getpid())
        self.store = store
        store.share(context)
        self.strategy = strategy_class(plan.strategy)(self.plan, store, context, shares)
        self.conductor: Conductor | None = None
        if plan.schedule is not None:
            gate = ScheduleGate(context, sum(len(share) for share in shares), plan.start_timeout_s)
            self.strategy.gate = gate
            self.conductor = Conductor(gate, plan.schedule)
        self.start = StartLine() if together else None
        if together and store.server is not None and self.strategy.buyers_open_store:
            self.strategy.opened = context.Semaphore(0)  # released together only once every one is connected
        self.live: dict[int, tuple[int, LeanProcess]] = {}  # pid -> (share, process); share -1: a helper
        self.buyers_left = 0
        self.exits = ChildExits()  # before the first fork: it reaps them all
        self.watching = selectors.DefaultSelector()
        self.watching.register(link, selectors.EVENT_READ)
        self.watching.register(self.exits, selectors.EVENT_READ)
        self.notices = store.notices()  # news from the store's side of the buyers: a server that closed on them
        if self.notices is not None:
            self.watching.register(self.notices, selectors.EVENT_READ)

    def launch(self) -> None:
        """Rehearse, start the strategy's helpers, fork a buyer process per share, then release them all (or let
        each go as it is forked).

        Every page the launcher writes between two forks is a copy-on-write fault, copied while the buyers
        forked so far are alive. So the fork loop does nothing else: the Process objects are made before it,
        and registered for watching after it (a buyer that exits sooner is reaped by `watch`, which follows).
        """
        rehearse(self.plan, self.store)
        for helper in self.strategy.helpers():
            try:
                helper.start()
            except OSError as e:
                self.link.send(("failed", f"could not start the {helper.name}: {e}"))
                raise Stop from e
            self._watch(-1, helper)
        processes = [
            LeanProcess(
                target=buyer_process,
                args=(n, buyers, self.strategy, self.start, self.results),
                name=f"ticketrush-buyer-{buyers.start}" if len(buyers) == 1 else f"ticketrush-pool-{n + 1}",
            )
            for n, buyers in enumerate(self.shares)
        ]
        if self.start is None:
            self.link.send(("started", time.monotonic_ns()))
        started = 0
        try:
            for process in processes:
                try:
                    process.start()
                except OSError as e:
                    self.link.send(("failed", f"could not start buyer process {started + 1}: {e}"))
                    raise Stop from e
                started += 1
                if started % CHECK_EVERY == 0 and self.link.poll(0):
                    self._hear_coordinator()
        finally:
            for n, process in enumerate(processes[:started]):  # watched, and so joined, whatever happened
                self._watch(n, process)
        self.results.close_writer()  # the buyers hold it now: the coordinator sees EOF once they are all gone
        self.strategy.close_launcher_ends()
        if self.start is not None:
            self._wait_for_connections(started)
            self.link.send(("started", time.monotonic_ns()))
            self.start.release()
        if self.conductor is not None:
            self.watching.register(self.conductor.gate.acks_r, selectors.EVENT_READ)
            self.conductor.next()

    def _wait_for_connections(self, processes: int) -> None:
        """Wait until each of `processes` buyer processes has opened its connection to the store's server (or
        failed to), so that none of them starts late for connecting after the others; at most CONNECT_WAIT_S, and
        a stop request ends the wait."""
        opened = self.strategy.opened
        if opened is None:
            return
        deadline = time.monotonic() + CONNECT_WAIT_S
        waiting = processes
        while waiting and time.monotonic() < deadline:
            if opened.acquire(timeout=WATCH_TIMEOUT_S / 5):
                waiting -= 1
            elif self.link.poll(0):
                self._hear_coordinator()

    def _watch(self, share: int, process: LeanProcess) -> None:
        assert process.pid is not None
        self.live[process.pid] = (share, process)
        self.buyers_left += share >= 0

    def watch(self) -> None:
        """Join processes as they exit; report those that failed; stop when asked; then report the count."""
        while self.live:
            events = self.watching.select(WATCH_TIMEOUT_S)
            for key, _ in events:
                if key.fileobj is self.link:
                    self._hear_coordinator()
                    continue
                if self.conductor is not None and key.fd == self.conductor.gate.acks_r:
                    self._step_done()
                    continue
                if key.fd == self.notices:
                    self._pass_on_notice()
            if not events or any(key.fileobj is self.exits for key, _ in events):  # timed out: look anyway
                self._reap()
        if self.notices is not None and select.select([self.notices], [], [], 0)[0]:
            self._pass_on_notice()  # written by a process that exited before it was read
        try:
            self.link.send(("done", self.store.final_count(), None))
        except TicketrushError as e:
            self.link.send(("done", None, e.message))

    def _hear_coordinator(self) -> None:
        """A step to release (step mode); anything else is a stop."""
        message = self.link.recv()
        if message[0] != "step" or self.conductor is None:
            raise Stop
        self.conductor.add(message[1])

    def _step_done(self) -> None:
        assert self.conductor is not None
        problem = self.conductor.heard()
        if problem is not None:
            self.link.send(("failed", problem))
            raise Stop

    def _pass_on_notice(self) -> None:
        """The first message is the one the coordinator needs; the rest say the same of other connections."""
        assert self.notices is not None
        message = os.read(self.notices, select.PIPE_BUF).decode(errors="replace").split("\n", 1)[0]
        self.watching.unregister(self.notices)
        self.notices = None
        self.link.send(("lost", loss_heard(message)))

    def _reap(self) -> None:
        for pid, status in self.exits.reap():
            if pid in self.live:
                self.live[pid][1].ended(status)
                self._joined(pid)

    def _joined(self, pid: int) -> None:
        n, process = self.live.pop(pid)
        if n < 0:
            if self.buyers_left and process.exitcode != 0:
                self.link.send(
                    ("failed", fact("run.helper_ended", name=process.name, how=exit_cause(process.exitcode)))
                )
                raise Stop
        else:
            self.buyers_left -= 1
            if process.exitcode != 0:
                self.link.send(("died", n, process.pid, process.exitcode))
                if self.conductor is not None and not self.conductor.finished:
                    self.link.send(("failed", fact("run.buyer_ended_mid_schedule", how=exit_cause(process.exitcode))))
                    raise Stop
        process.close()

    def stop(self) -> None:
        """Terminate, then kill, every process still running, and join them all."""
        processes = [process for _, process in self.live.values()]
        for signal_them in ("terminate", "kill"):
            lingering = [p for p in processes if p.is_alive()]
            for process in lingering:
                getattr(process, signal_them)()
            deadline = time.monotonic() + STOP_GRACE_S
            for process in lingering:
                process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if not process.is_alive():
                process.close()
        self.exits.close()


def main(argv: list[str]) -> int:
    parent_pid, link_fd, results_writer = map(int, argv[:3])
    job_timeout_s = float(argv[3])
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the buyers inherit it: stopping is the coordinator's job
    link = FramedEnd(link_fd)
    launcher = None
    try:
        if not link.poll(job_timeout_s):
            return 1
        launcher = _Launcher(link, RecordChannel.for_writing(results_writer), link.recv())
        launcher.launch()
        launcher.watch()
    except (Stop, EOFError, BrokenPipeError):
        pass  # asked to stop, or the coordinator is gone
    finally:
        if launcher is not None:
            launcher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

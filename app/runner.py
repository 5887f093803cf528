"""A run process: one simulation executed in a process of its own, started by the dispatcher with "spawn".

    execute(sim_id, config_json, data_dir, time_limit_s, server_pid, store_urls, dask_scheduler)
      |-- die with the server      PR_SET_PDEATHSIG: killed even when the server is killed with SIGKILL
      |-- yield the CPU            a session of its own, whose scheduling group is niced (see `nice_own_session`)
      |-- SIGTERM/SIGINT = stop    the engine polls the flag, reaps every buyer and raises RunCancelled
      |   SHUTDOWN_SIGNAL = stop  the same, because the server is shutting down (and the run says so)
      |-- queued -> running
      |-- run_simulation           progress -> store (the engine calls it at most 10 times a second)
      |   `-- buyer records        -> their file, written by a child while the engine analyses them
      `-- running -> completed (with the result) | failed | cancelled
                                   (a store server that failed the run mid-way: its records are kept too)

A run process is spawned for its run, or spawned ahead and handed it (app.standby). The outcome is written
here, by the run process, so a finished result is stored even if the server dies a moment later. The engine
starts the buyers from a launcher process of its own (workers.launcher); the launcher and the buyers ignore
SIGINT: stopping is this process's job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import traceback
from pathlib import Path
from types import FrameType

from app.buyer_files import Saving
from app.lifecycle import InvalidTransition, Status
from app.store import Store
from app.store_errors import StoreError
from workers import (
    ReadyLauncher,
    Result,
    RunCancelled,
    SimulationConfig,
    StoreFailed,
    TicketrushError,
    run_simulation,
)
from workers.hygiene import die_with_parent, name_process
from workers.speech import Fact, fact

RUN_NICENESS = 19
GROUP_NICENESS = 19
SHUTDOWN_SIGNAL = signal.SIGUSR1  # sent by the dispatcher instead of SIGTERM when the server itself stops
SHUTDOWN_REASON = fact("run.shutdown_while_running")
RUNNING_NAME = "ticketrush-run"  # the name ps and /proc/<pid>/comm show


class StopRequest:
    """Set by SIGTERM, SIGINT or SHUTDOWN_SIGNAL; read by the engine through `should_stop`."""

    def __init__(self) -> None:
        self.requested = False
        self.reason: Fact | None = None  # the error a cancelled run is stored with: none for a user's cancel

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if signum == SHUTDOWN_SIGNAL:
            self.reason = SHUTDOWN_REASON

    def should_stop(self) -> bool:
        return self.requested


def nice_own_session() -> None:
    """Let the API answer promptly however many buyers are running.

    Niceness is per process: even at nice 19, a thousand runnable buyers outweigh the server fifteen to one.
    Linux's scheduler autogroups share the CPU between sessions instead, so the run process starts a session
    (its buyers inherit it) and nices the whole group: the API gets the CPU when it wants it and the run the
    rest. Where there are no autogroups (turned off, or inside a container's cgroup) the per-process nice is
    what remains.
    """
    os.setpriority(os.PRIO_PROCESS, 0, RUN_NICENESS)  # the dispatcher may have set it already
    try:
        os.setsid()
    except OSError:
        return  # it leads its process group already, so the group it would nice is not its own
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(GROUP_NICENESS))


class StepFeed:
    """A step-mode run's steps as the API stores them, each handed to the engine once."""

    def __init__(self, store: Store, sim_id: str) -> None:
        self.store = store
        self.sim_id = sim_id
        self.taken = 0

    def __call__(self) -> list[int]:
        steps = self.store.steps(self.sim_id, self.taken)
        self.taken += len(steps)
        return steps


def _settle(
    store: Store, sim_id: str, status: Status, *, error: str | Fact | None = None, result: Result | None = None
) -> None:
    with contextlib.suppress(InvalidTransition):  # the server settled it first (the run was past its time limit)
        store.transition(sim_id, status, error=error, result=result)


def execute(
    sim_id: str,
    config_json: str,
    data_dir: str,
    time_limit_s: float,
    server_pid: int,
    store_urls: dict[str, str] | None = None,
    dask_scheduler: str | None = None,
    *,
    launcher: ReadyLauncher | None = None,
) -> None:
    """Process target: run simulation `sim_id` and store its outcome; `store_urls` names the stores' servers,
    `dask_scheduler` the cluster of executor 'dask'; `launcher` one started ahead (see app.standby)."""
    name_process(RUNNING_NAME)
    die_with_parent(server_pid)
    nice_own_session()
    stop = StopRequest()
    for signum in (signal.SIGTERM, signal.SIGINT, SHUTDOWN_SIGNAL):
        signal.signal(signum, stop)
    store = Store(Path(data_dir))
    if stop.requested:
        _settle(store, sim_id, Status.CANCELLED, error=stop.reason)
        return
    try:
        store.transition(sim_id, Status.RUNNING)
    except InvalidTransition:
        return  # cancelled before it could start
    saving: list[Saving] = []  # the buyer records, saved while the engine analyses them
    try:
        report = run_simulation(
            SimulationConfig.model_validate_json(config_json),
            store.folders.path(sim_id),
            on_progress=lambda finished, _total: store.set_progress(sim_id, finished),
            should_stop=stop.should_stop,
            time_limit_s=time_limit_s,
            pause_collector=True,  # this process exists for this one run
            next_steps=StepFeed(store, sim_id),
            store_urls=store_urls,
            dask_scheduler=dask_scheduler,
            launcher=launcher,
            on_records=lambda records: saving.append(store.buyer_files.save_aside(sim_id, records)),
        )
    except RunCancelled:
        _settle(store, sim_id, Status.CANCELLED, error=stop.reason)
    except StoreFailed as e:
        with contextlib.suppress(StoreError):  # the failure is what matters; the records are what is left of it
            store.buyer_files.save(sim_id, e.records)
        _settle(store, sim_id, Status.FAILED, error=e.message)
    except TicketrushError as e:
        _settle(store, sim_id, Status.FAILED, error=e.message)
    except Exception as e:
        traceback.print_exc()
        _settle(store, sim_id, Status.FAILED, error=fact("run.unexpected", kind=type(e).__name__, words=str(e)))
    else:
        try:
            if saving:
                saving[0].wait()
            else:
                store.buyer_files.save(sim_id, report.records)
        except StoreError as e:
            _settle(store, sim_id, Status.FAILED, error=fact("run.records_unsaved", words=str(e)))
            return
        _settle(store, sim_id, Status.COMPLETED, result=report.result)
    finally:
        for started in saving:
            with contextlib.suppress(StoreError):
                started.wait()  # the analysis failed after the records went to be saved: they are kept

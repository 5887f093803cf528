"""A run process started ahead of need, so that a POST finds one ready: no spawn, no imports on the user's wait.

    dispatcher thread                          the waiting process (spawned, like any run process)
      Standby()  ---- spawn ------------------> wait(): die with the server, a session of its own (niced),
                                                  the engine imported, a launcher started (ReadyLauncher),
                                                  then wait for a run on the pipe
      standby.hand(args) ------ args ---------> app.runner.execute(*args, launcher=ready): the run, then exit
      standby.close() --------- EOF ----------> no run: close the launcher and exit

Once handed a run, the process is that run's process (the dispatcher's `_Run.process`): what happens to it
from then on is what happens to any run process. Its launcher runs that one run, as a fresh launcher would.
While it waits its name (/proc/<pid>/comm) is WAITING_NAME, and app.runner's RUNNING_NAME once it runs; a launcher that
waited longer than READY_FOR_S for a job is replaced by a new one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from app.runner import execute, nice_own_session
from workers import ReadyLauncher
from workers.hygiene import die_with_parent, name_process

WAITING_NAME = "ticketrush-wait"
READY_FOR_S = 600.0
JOB_MARGIN_S = 60.0  # the launcher waits this much longer than the process, so it is never the first to go
CLOSE_TIMEOUT_S = 5.0


def wait(jobs: Connection, server_pid: int) -> None:
    """Process target: get ready, then run the simulation the dispatcher hands over (or exit at its EOF)."""
    name_process(WAITING_NAME)
    die_with_parent(server_pid)
    nice_own_session()  # before the launcher starts, so that it and its buyers share the niced session
    ready = ReadyLauncher(READY_FOR_S + JOB_MARGIN_S)
    try:
        while not jobs.poll(READY_FOR_S):
            ready.close()
            ready = ReadyLauncher(READY_FOR_S + JOB_MARGIN_S)
        try:
            args = jobs.recv()
        except EOFError:
            return  # closed: the server needs no more runs of this process
        finally:
            jobs.close()
        execute(*args, launcher=ready)
    finally:
        ready.close()


class Standby:
    """The dispatcher's side: the waiting process and the pipe that hands it a run."""

    def __init__(self, context: multiprocessing.context.SpawnContext, server_pid: int) -> None:
        reader, self._jobs = context.Pipe(duplex=False)
        self.process: BaseProcess = context.Process(target=wait, args=(reader, server_pid), name=WAITING_NAME)
        try:
            self.process.start()
        finally:
            reader.close()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def usable(self) -> bool:
        return self.process.is_alive()

    def hand(self, args: tuple[Any, ...], name: str) -> BaseProcess:
        """Give it the run `args` (app.runner.execute's); its process, now that run's. OSError if it is gone."""
        self._jobs.send(args)
        self._jobs.close()
        self.process.name = name
        return self.process

    def close(self) -> None:
        """End a process that was never handed a run: EOF on its pipe, then wait (terminate, kill if it lingers)."""
        with contextlib.suppress(OSError):
            self._jobs.close()
        self.process.join(CLOSE_TIMEOUT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(CLOSE_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(CLOSE_TIMEOUT_S)
        with contextlib.suppress(ValueError):
            self.process.close()

"""Buyer processes: forked children that run one function and exit, made for a thousand short lives.

To the launcher a buyer process looks like a `multiprocessing.Process`: start, pid, sentinel, join, is_alive,
exitcode, terminate, kill, close. What differs is what it does not do. A forked multiprocessing Process first
runs `Process._bootstrap` in the child, the bookkeeping that makes it a full multiprocessing citizen (stdin
closed, finalizers cleared, the after-fork hooks of multiprocessing run, children of its own joined at exit),
and every `start()` first polls each live child started before it (N * N / 2 waitpid calls for N buyers alive
at once). A buyer needs none of it, and every page such work touches is a copy-on-write fault (bench section 3c
measures them). Nor does this module import multiprocessing: a launcher whose strategy shares no
multiprocessing lock, semaphore or shared memory never imports it (or threading, whose after-fork hook every
child of a process that imported it runs), so it forks lighter buyers. `fork_context` gives the strategies that
need one multiprocessing's fork context, imported when first used.

    process = LeanProcess(target=work, args=(...), name="ticketrush-buyer-1")
    process.start()
    process.join(timeout)      # the launcher joins every process it starts
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


class LeanProcess:
    """A child forked to run `target(*args)`; it exits with 0, its SystemExit code, or 1 on an exception
    (printed). `sentinel` is a descriptor that turns readable once the child is gone."""

    def __init__(self, target: Callable[..., object], args: tuple[Any, ...] = (), name: str = "lean-process") -> None:
        self.target = target
        self.args = args
        self.name = name
        self.pid: int | None = None
        self.sentinel = -1
        self._exitcode: int | None = None
        self._closed = False

    def start(self) -> None:
        if self.pid is not None:
            raise ValueError(f"{self.name} was started already")
        sentinel, child_end = os.pipe()
        try:
            pid = os.fork()
        except BaseException:
            os.close(sentinel)
            os.close(child_end)
            raise
        if pid == 0:
            os.close(sentinel)
            self._run_and_exit()
        os.close(child_end)
        self.pid, self.sentinel = pid, sentinel

    def _run_and_exit(self) -> None:
        code = 1
        try:
            self.target(*self.args)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback  # only here: the launcher forks every buyer, and this module's size is in each fork

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    @property
    def exitcode(self) -> int | None:
        """None while it runs; its exit code once it has exited, or minus the signal that ended it."""
        self._reap(os.WNOHANG)
        return self._exitcode

    def is_alive(self) -> bool:
        self._check_open()
        return self.pid is not None and self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        """Wait until it has exited (at most `timeout` seconds) and reap it."""
        self._check_open()
        if self.pid is None or self._exitcode is not None:
            return
        if select.select([self.sentinel], [], [], timeout)[0]:
            self._reap(0)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        """Let go of the sentinel; only once it has exited."""
        if self._closed:
            return
        if self.pid is not None and self.exitcode is None:
            raise ValueError(f"{self.name} is still running")
        if self.pid is not None:
            os.close(self.sentinel)
        self._closed = True

    def _signal(self, signum: int) -> None:
        if self.pid is not None and self.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def _reap(self, flags: int) -> None:
        if self.pid is None or self._exitcode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            return
        if pid:
            self._exitcode = os.waitstatus_to_exitcode(status)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.name} is closed")


class _ForkContext:
    """multiprocessing's fork context, imported on the first use of one of its attributes."""

    def __getattr__(self, name: str) -> Any:
        import multiprocessing

        return getattr(multiprocessing.get_context("fork"), name)


def fork_context() -> BaseContext:
    """What the strategies and stores make their shared locks, semaphores and memory with: multiprocessing's fork
    context, imported only when one of them makes one."""
    return cast("BaseContext", _ForkContext())

"""Buyer processes: forked children that run one function and exit, made for a thousand short lives.

To the launcher a buyer process looks like a `multiprocessing.Process`: start, pid, join, is_alive, exitcode,
terminate, kill, close. What differs is what it does not do. A forked multiprocessing Process first
runs `Process._bootstrap` in the child, the bookkeeping that makes it a full multiprocessing citizen (stdin
closed, finalizers cleared, the after-fork hooks of multiprocessing run, children of its own joined at exit),
and every `start()` first polls each live child started before it (N * N / 2 waitpid calls for N buyers alive
at once). A buyer needs none of it, and every page such work touches is a copy-on-write fault (bench section 3c
measures them). Nor does this module import multiprocessing: a launcher whose strategy shares no
multiprocessing lock, semaphore or shared memory never imports it (or threading, whose after-fork hook every
child of a process that imported it runs), so it forks lighter buyers. `fork_context` gives the strategies that
need one multiprocessing's fork context, imported when first used.

Nor has a buyer a sentinel (a pipe whose write end only the child holds, readable once it exits): the read end
of each would stay open in the launcher, so every buyer forked after it would inherit it, copying and closing a
thousand descriptors of its elders. One `ChildExits` tells the launcher instead that children have exited, and
reaps them.

    exits = ChildExits()       # before the first fork
    process = LeanProcess(target=work, args=(...), name="ticketrush-buyer-1")
    process.start()
    select([exits], ...)       # readable once a child may have exited
    for pid, status in exits.reap():
        processes[pid].ended(status)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

_FIRST_JOIN_POLL_S = 0.001
_MAX_JOIN_POLL_S = 0.05


class LeanProcess:
    """A child forked to run `target(*args)`; it exits with 0, its SystemExit code, or 1 on an exception
    (printed)."""

    def __init__(self, target: Callable[..., object], args: tuple[Any, ...] = (), name: str = "lean-process") -> None:
        self.target = target
        self.args = args
        self.name = name
        self.pid: int | None = None
        self._exitcode: int | None = None
        self._closed = False

    def start(self) -> None:
        if self.pid is not None:
            raise ValueError(f"{self.name} was started already")
        pid = os.fork()
        if pid == 0:
            self._run_and_exit()
        self.pid = pid

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

    def ended(self, status: int) -> None:
        """It has been reaped by another way (ChildExits), with this wait status."""
        self._exitcode = os.waitstatus_to_exitcode(status)

    def is_alive(self) -> bool:
        self._check_open()
        return self.pid is not None and self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        """Wait until it has exited (at most `timeout` seconds) and reap it."""
        self._check_open()
        if timeout is None:
            self._reap(0)
            return
        deadline = time.monotonic() + timeout
        pause = _FIRST_JOIN_POLL_S
        while self.exitcode is None and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_JOIN_POLL_S)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        """Forget it; only once it has exited."""
        if self.pid is not None and self.exitcode is None:
            raise ValueError(f"{self.name} is still running")
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
            self.ended(status)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.name} is closed")


class ChildExits:
    """One descriptor, readable once a child of this process may have exited, and the reaping of those that have.

    SIGCHLD gets a handler that does nothing, so that Python writes a byte to its wakeup descriptor (this pipe)
    for it; `close` puts back the handler and the wakeup descriptor it found. Only the main thread can do
    this. A process using it must reap all its children through it: `reap` takes every child that has exited.
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._handler = signal.signal(signal.SIGCHLD, _noticed)
        self._wakeup = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        self._closed = False

    def fileno(self) -> int:
        return self._r

    def reap(self) -> list[tuple[int, int]]:
        """(pid, wait status) of every child that has exited since the last look."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._r, 4096):
                pass
        exited = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break  # no child left
            if pid == 0:
                break
            exited.append((pid, status))
        return exited

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        signal.set_wakeup_fd(self._wakeup)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL if self._handler is None else self._handler)
        os.close(self._r)
        os.close(self._w)


def _noticed(signum: int, frame: object) -> None:
    """SIGCHLD's handler: the wakeup descriptor has been written already."""


class _ForkContext:
    """multiprocessing's fork context, imported on the first use of one of its attributes."""

    def __getattr__(self, name: str) -> Any:
        import multiprocessing

        return getattr(multiprocessing.get_context("fork"), name)


def fork_context() -> BaseContext:
    """What the strategies and stores make their shared locks, semaphores and memory with: multiprocessing's fork
    context, imported only when one of them makes one."""
    return cast("BaseContext", _ForkContext())

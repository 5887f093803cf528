"""What guards a purchase: one small interface, one class per strategy.

Every strategy is built in the launcher and handed to buyer processes when they start, so it must
survive that trip: a multiprocessing.Lock travels by inheritance, a file lock travels as a path and opens
its own descriptor inside each process (an inherited descriptor would share one lock among all forks).

    with lock.held(timeout=2.0):   # LockTimeout when the wait runs out
        ...critical section...
"""

from __future__ import annotations

import fcntl
import os
import random
import signal
import threading
import time
from multiprocessing.context import BaseContext
from pathlib import Path
from types import FrameType
from typing import Literal

from workers.errors import LockTimeout

LockKind = Literal["none", "process", "file"]

_FIRST_POLL_S = 0.00005
_MAX_POLL_S = 0.005
# A few processes sharing the lock (a pool) mostly wait one short critical section: trying again at once
# takes the lock as it is given back, without the cost of setting up a blocking wait or of being woken.
_SPIN_TRIES = 40


class BuyerLock:
    """The interface: `acquire` with a timeout returns whether the lock was won; `release` gives it back."""

    kind: LockKind
    label: str

    def acquire(self, timeout: float) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Free what this process opened for the lock."""

    def held(self, timeout: float) -> Held:
        return Held(self, timeout)


class Held:
    """`with lock.held(timeout):` takes the lock (or raises LockTimeout) and always gives it back."""

    __slots__ = ("lock", "timeout")

    def __init__(self, lock: BuyerLock, timeout: float) -> None:
        self.lock = lock
        self.timeout = timeout

    def __enter__(self) -> None:
        if not self.lock.acquire(self.timeout):
            raise LockTimeout(f"gave up after waiting {self.timeout:g} s for the {self.lock.label}")

    def __exit__(self, *exc_info: object) -> None:
        self.lock.release()


class NoLock(BuyerLock):
    """No lock at all: the lesson's first version, where buyers race freely."""

    kind = "none"
    label = "no lock"

    def acquire(self, timeout: float) -> bool:
        return True

    def release(self) -> None:
        pass


class ProcessLock(BuyerLock):
    """A multiprocessing.Lock shared by inheritance. Stays locked forever if its holder dies."""

    kind = "process"
    label = "process lock"

    def __init__(self, context: BaseContext) -> None:
        self._lock = context.Lock()

    def acquire(self, timeout: float) -> bool:
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()


class FileLock(BuyerLock):
    """An flock on a lock file beside the db. The kernel releases it when its holder dies.

    This is the lock `filelock.FileLock` takes on Linux (fcntl.flock on a separate lock file), so the two
    exclude each other; it is taken directly because importing filelock installs at-fork hooks that cost
    every buyer fork about a millisecond, and the import itself costs a buyer process tens of milliseconds.
    Each process opens the lock file once and locks that descriptor for every purchase. A waiter first tries
    again a few times, yielding the CPU in between; then it sleeps in the kernel until the lock is free, with
    an alarm to end the wait at its timeout (see `_flock_until`); where no alarm can be set (not the main
    thread, or the process's alarm is in use) it polls instead.
    """

    kind = "file"
    label = "file lock"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid: int | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path, "_fd": None, "_pid": None}

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, timeout: float) -> bool:
        fd = self._descriptor()
        deadline = time.monotonic() + timeout
        for _ in range(_SPIN_TRIES):
            if _try_flock(fd):
                return True
            os.sched_yield()
        left = deadline - time.monotonic()
        if left <= 0:  # no time left to wait (an alarm of 0 s would never ring)
            return _try_flock(fd)
        if _alarm_is_free():
            return _flock_until(fd, left)
        return _poll_flock(fd, left)

    def release(self) -> None:
        assert self._fd is not None, "release() without acquire()"
        fcntl.flock(self._fd, fcntl.LOCK_UN)  # the descriptor `acquire` just used in this process

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _alarm_is_free() -> bool:
    """Signal handlers can only be set by the main thread; someone else's pending alarm is left alone."""
    return threading.current_thread() is threading.main_thread() and signal.getitimer(signal.ITIMER_REAL)[0] == 0


class _AlarmRang(Exception):
    pass


def _flock_until(fd: int, timeout: float) -> bool:
    """Wait in a blocking flock, interrupted by a one-shot SIGALRM after `timeout` seconds.

    Waiters sleep in the kernel until the lock is freed, so a thousand of them cost no CPU while they wait.
    The alarm's handler raises at most once and only while armed, so it can interrupt the wait but never
    escapes this function; if it rings just after the lock was granted, the final non-blocking attempt on
    the same descriptor sees that this process already holds the lock and reports it won.
    """
    armed = True

    def ring(signum: int, frame: FrameType | None) -> None:
        nonlocal armed
        if armed:
            armed = False
            raise _AlarmRang

    previous = signal.signal(signal.SIGALRM, ring)
    won = False
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            fcntl.flock(fd, fcntl.LOCK_EX)
            won = True
        except _AlarmRang:
            pass
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _AlarmRang:  # rang while the wait was being wound up
        pass
    finally:
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
    return won or _try_flock(fd)


def _poll_flock(fd: int, timeout: float) -> bool:
    """Try, then sleep a growing, jittered interval, until the lock is won or `timeout` runs out."""
    deadline = time.monotonic() + timeout
    pause = _FIRST_POLL_S
    while not _try_flock(fd):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
        pause = min(pause * 2, _MAX_POLL_S)
    return True


_STRATEGIES: dict[LockKind, type[BuyerLock]] = {cls.kind: cls for cls in (NoLock, ProcessLock, FileLock)}


def label(kind: LockKind) -> str:
    """What the explanation calls the lock of `kind`."""
    return _STRATEGIES[kind].label


def make_lock(kind: LockKind, context: BaseContext, db_path: Path) -> BuyerLock:
    """Build the strategy for `kind`; the file lock lives in `<db>.lock`, never in the db itself."""
    if kind == "process":
        return ProcessLock(context)
    if kind == "file":
        return FileLock(db_path.with_name(db_path.name + ".lock"))
    return NoLock()

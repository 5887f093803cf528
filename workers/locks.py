"""What guards a purchase: one small interface, one class per strategy.

Every strategy is built in the coordinator and handed to buyer processes when they start, so it must
survive that trip: a multiprocessing.Lock travels by inheritance, a file lock travels as a path and opens
its own descriptor inside each process (an inherited descriptor would share one lock among all forks).

    with lock.held(timeout=2.0):   # LockTimeout when the wait runs out
        ...critical section...
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Literal

import filelock

from workers.errors import LockTimeout

LockKind = Literal["none", "process", "file"]

_FIRST_POLL_S = 0.00005
_MAX_POLL_S = 0.005


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

    @contextmanager
    def held(self, timeout: float) -> Iterator[None]:
        if not self.acquire(timeout):
            raise LockTimeout(f"gave up after waiting {timeout:g} s for the {self.label}")
        try:
            yield
        finally:
            self.release()


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
    """An flock on a lock file beside the db, via filelock. The kernel releases it when its holder dies.

    Each process opens the lock file once and locks that descriptor for every purchase; flock is not
    first-come-first-served, so waiters poll with a growing, jittered interval.
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
        pause = _FIRST_POLL_S
        while not filelock.lock_descriptor(fd, blocking=False):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            pause = min(pause * 2, _MAX_POLL_S)
        return True

    def release(self) -> None:
        filelock.unlock_descriptor(self._descriptor())

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def make_lock(kind: LockKind, context: BaseContext, db_path: Path) -> BuyerLock:
    """Build the strategy for `kind`; the file lock lives in `<db>.lock`, never in the db itself."""
    if kind == "process":
        return ProcessLock(context)
    if kind == "file":
        return FileLock(db_path.with_name(db_path.name + ".lock"))
    return NoLock()

"""What guards a read-write purchase: one small interface, one class per kind of lock.

Every lock is built in the launcher and handed to buyer processes when they start, so it must survive that
trip: a multiprocessing.Lock travels by inheritance, a file lock travels as a path and opens
its own descriptor inside each process (an inherited descriptor would share one lock among all forks), and
the locks a server keeps (advisory, redis) use the connection the buyer process opened to its store.

    with lock.held(timeout=2.0):   # LockTimeout when the wait runs out
        ...critical section...
"""

from __future__ import annotations

import fcntl
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from workers.errors import LockTimeout, gave_up_waiting
from workers.speech import Fact, fact

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from workers.stores.base import TicketStore
    from workers.stores.postgres import PostgresStore
    from workers.stores.redis import RedisStore

LockKind = Literal["none", "process", "file", "semaphore", "advisory", "redis"]

DEFAULT_PERMITS = 3  # the lesson's semaphore: "a toilet with 3 stalls"
DEFAULT_LOCK_TTL_MS = 30_000  # the Redis lock's life, as long as a buyer waits for a lock by default

_FIRST_POLL_S = 0.00005
_MAX_POLL_S = 0.02
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
            raise LockTimeout(gave_up_waiting(self.timeout, lock_said(self.lock)))

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


class SemaphoreLock(BuyerLock):
    """A multiprocessing.Semaphore with `permits` places, shared by inheritance: with one permit it is a lock, with
    more it lets that many buyers into the critical section at once (the lesson's section 8). Like a process lock,
    a permit whose holder dies is never given back."""

    kind = "semaphore"
    label = "semaphore"

    def __init__(self, context: BaseContext, permits: int) -> None:
        self.permits = permits
        self._semaphore = context.Semaphore(permits)

    def acquire(self, timeout: float) -> bool:
        return self._semaphore.acquire(timeout=timeout)

    def release(self) -> None:
        self._semaphore.release()


class FileLock(BuyerLock):
    """An flock on a lock file beside the db. The kernel releases it when its holder dies.

    This is the lock `filelock.FileLock` takes on Linux (fcntl.flock on a separate lock file), so the two
    exclude each other; it is taken directly because importing filelock installs at-fork hooks that cost every
    buyer fork. Each process opens the lock file once and locks that descriptor for every purchase. A waiter
    tries again at once a few times, yielding the CPU in between (a lock given back is taken without a sleep),
    then sleeps a growing, jittered interval between tries until its timeout: no signal, no timer, no thread,
    so the caller's process is left as it was.
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
        pause = _FIRST_POLL_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return _try_flock(fd)
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            if _try_flock(fd):
                return True
            pause = min(pause * 2, _MAX_POLL_S)

    def release(self) -> None:
        assert self._fd is not None, "release() without acquire()"
        fcntl.flock(self._fd, fcntl.LOCK_UN)  # the descriptor `acquire` just used in this process

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class AdvisoryLock(BuyerLock):
    """PostgreSQL's advisory lock on the run's key, taken in a transaction (`pg_advisory_xact_lock`) on the
    buyer's own connection: the read and the write happen in that transaction, and its commit releases the
    lock. The server gives the lock back when the holder's connection ends, so a killed holder frees it."""

    kind = "advisory"
    label = "PostgreSQL advisory lock"

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def acquire(self, timeout: float) -> bool:
        try:
            self.store.begin("advisory", timeout)
        except LockTimeout:
            return False
        return True

    def release(self) -> None:
        self.store.commit()


class RedisLock(BuyerLock):
    """A Redis key set with `SET key token NX PX ttl`: whoever sets it holds the lock, until it is deleted or
    its time to live runs out. A waiter tries again after a growing, jittered pause. Release deletes the key
    only if it still holds the holder's token (one Lua script: compare and delete), so a holder never frees a
    lock that expired and was taken by another. But a hold longer than the TTL lets the next buyer in while
    the first still thinks it holds the lock: both are between read and write, and a ticket is sold twice."""

    kind = "redis"
    label = "Redis lock"

    def __init__(self, store: RedisStore, ttl_ms: int) -> None:
        self.store = store
        self.ttl_ms = ttl_ms
        self._token = ""
        self._taken = 0

    def acquire(self, timeout: float) -> bool:
        self._taken += 1
        self._token = f"{os.getpid()}.{self._taken}"
        deadline = time.monotonic() + timeout
        pause = _FIRST_POLL_S
        while not self.store.try_lock(self._token, self.ttl_ms):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            pause = min(pause * 2, _MAX_POLL_S)
        return True

    def release(self) -> None:
        self.store.unlock(self._token)  # False when the lock had expired: then it is not this buyer's to free


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


_KINDS: dict[LockKind, type[BuyerLock]] = {
    cls.kind: cls for cls in (NoLock, ProcessLock, FileLock, SemaphoreLock, AdvisoryLock, RedisLock)
}


def label(kind: LockKind) -> str:
    """What the explanation calls the lock of `kind`."""
    return _KINDS[kind].label


def lock_said(lock: BuyerLock) -> Fact:
    """The lock a buyer waited for, as a LockTimeout names it ("process lock"), in any language."""
    return fact(f"lock.waited.{lock.kind}")


def lock_fact(kind: str, permits: int | None) -> Fact:
    """The lock of `kind` as the explanations and refusals name it, in any language (workers.speech)."""
    if kind == "semaphore":
        return fact("lock.semaphore", n=permits or DEFAULT_PERMITS)
    return fact(f"lock.{kind}")


def admits(kind: str, permits: int | None) -> int:
    """How many buyers the lock lets between read and write at once; 0: no lock, no limit."""
    if kind == "none":
        return 0
    return permits or DEFAULT_PERMITS if kind == "semaphore" else 1


def make_lock(
    kind: LockKind,
    context: BaseContext,
    lock_path: Path,
    permits: int | None = None,
    *,
    store: TicketStore | None = None,
    ttl_ms: int | None = None,
) -> BuyerLock:
    """Build the lock of `kind`; a file lock lives in `lock_path`, a file of its own beside the store; the
    advisory and redis locks are kept by `store`'s server (`workers.support` pairs them with their store)."""
    if kind in ("advisory", "redis"):
        if store is None or store.kind != {"advisory": "postgres", "redis": "redis"}[kind]:
            raise ValueError(f"the {label(kind)} is kept by the store's own server")
        if kind == "advisory":
            return AdvisoryLock(store)  # type: ignore[arg-type]
        return RedisLock(store, ttl_ms or DEFAULT_LOCK_TTL_MS)  # type: ignore[arg-type]
    if kind == "process":
        return ProcessLock(context)
    if kind == "semaphore":
        return SemaphoreLock(context, permits or DEFAULT_PERMITS)
    if kind == "file":
        return FileLock(lock_path)
    return NoLock()

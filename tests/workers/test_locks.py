from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from workers.errors import LockTimeout
from workers.locks import BuyerLock, FileLock, NoLock, ProcessLock, SemaphoreLock, make_lock
from workers.stores.file import FileStore

fork = multiprocessing.get_context("fork")


def _try_once(lock: BuyerLock, timeout: float) -> None:
    won = lock.acquire(timeout)
    if won:
        lock.release()
    os._exit(0 if won else 3)


def _hold_until_killed(lock: BuyerLock, holding: Event) -> None:
    lock.acquire(5)
    holding.set()
    signal.pause()


def _exit_code_of_try(lock: BuyerLock, timeout: float) -> int | None:
    child = fork.Process(target=_try_once, args=(lock, timeout))
    child.start()
    child.join(timeout=10)
    return child.exitcode


def _locks(tmp_path: Path) -> list[BuyerLock]:
    return [ProcessLock(fork), FileLock(tmp_path / "db.json.lock")]


def test_lock_shuts_out_other_processes_until_released(tmp_path: Path) -> None:
    for lock in _locks(tmp_path):
        assert lock.acquire(1)
        assert _exit_code_of_try(lock, 0.2) == 3, lock.label
        lock.release()
        assert _exit_code_of_try(lock, 0.2) == 0, lock.label
        lock.close()


def test_a_held_lock_asked_with_no_time_left_gives_up_at_once(tmp_path: Path) -> None:
    for lock in _locks(tmp_path):
        assert lock.acquire(1)
        try:
            assert _exit_code_of_try(lock, 0.0) == 3, lock.label
        finally:
            lock.release()
            lock.close()


def test_lock_held_raises_lock_timeout_naming_the_lock(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "db.json.lock")
    holder = fork.Event()
    child = fork.Process(target=_hold_until_killed, args=(lock, holder))
    child.start()
    try:
        assert holder.wait(5)
        with pytest.raises(LockTimeout, match=r"waiting 0.1 s for the file lock"), lock.held(0.1):
            pass
    finally:
        child.kill()
        child.join(5)


def test_file_lock_is_released_by_the_kernel_when_its_holder_dies(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "db.json.lock")
    holding = fork.Event()
    child = fork.Process(target=_hold_until_killed, args=(lock, holding))
    child.start()
    assert holding.wait(5)
    assert not lock.acquire(0.1)
    child.kill()
    child.join(5)
    assert lock.acquire(2)
    lock.release()
    lock.close()


def test_process_lock_stays_locked_when_its_holder_dies() -> None:
    lock = ProcessLock(fork)
    holding = fork.Event()
    child = fork.Process(target=_hold_until_killed, args=(lock, holding))
    child.start()
    assert holding.wait(5)
    child.kill()
    child.join(5)
    assert not lock.acquire(0.3)  # a waiter needs its timeout: nobody will ever release this lock


def test_make_lock_keeps_the_file_lock_beside_the_db(tmp_path: Path) -> None:
    lock_path = FileStore(tmp_path).lock_path
    file_lock = make_lock("file", fork, lock_path)
    assert isinstance(file_lock, FileLock) and file_lock.path == tmp_path / "db.json.lock"
    assert isinstance(make_lock("process", fork, lock_path), ProcessLock)
    assert isinstance(make_lock("none", fork, lock_path), NoLock)
    semaphore = make_lock("semaphore", fork, lock_path, 2)
    assert isinstance(semaphore, SemaphoreLock) and semaphore.permits == 2


def test_a_semaphore_lets_in_as_many_processes_as_it_has_permits() -> None:
    semaphore = SemaphoreLock(fork, 2)
    assert semaphore.acquire(1)
    assert _exit_code_of_try(semaphore, 0.2) == 0  # a second place is free
    assert semaphore.acquire(1)
    assert _exit_code_of_try(semaphore, 0.2) == 3  # both taken: the third waits out its timeout
    semaphore.release()
    semaphore.release()


def _wait_and_check_the_alarm_is_untouched(lock: BuyerLock) -> None:
    def own_handler(signum: int, frame: object) -> None:
        os._exit(4)  # an alarm reached the caller's handler

    signal.signal(signal.SIGALRM, own_handler)
    touched: list[object] = []
    waiting = threading.Event()

    def watch() -> None:  # samples the process-wide alarm state while the main thread waits for the lock
        waiting.wait(5)
        while waiting.is_set():
            if signal.getsignal(signal.SIGALRM) is not own_handler or signal.getitimer(signal.ITIMER_REAL)[0]:
                touched.append(True)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    waiting.set()
    won = lock.acquire(0.3)
    waiting.clear()
    watcher.join(5)
    os._exit(5 if won else 6 if touched else 3)


def test_the_file_lock_waits_without_taking_its_callers_signals_or_timer(tmp_path: Path) -> None:
    holder = FileLock(tmp_path / "db.json.lock")
    assert holder.acquire(1)
    try:
        child = fork.Process(target=_wait_and_check_the_alarm_is_untouched, args=(FileLock(holder.path),))
        child.start()
        child.join(10)
        assert child.exitcode == 3  # it waited out its timeout, and left SIGALRM and the timer as they were
    finally:
        holder.release()
        holder.close()


FILELOCK_PROBE = """
import sys, filelock
lock = filelock.FileLock(sys.argv[1])
try:
    lock.acquire(timeout=0.2)
except filelock.Timeout:
    sys.exit(3)
lock.release()
"""


def _filelock_can_take(path: Path) -> bool:
    """Whether filelock.FileLock, in a process of its own, gets the lock on `path` within 0.2 s."""
    probe = subprocess.run([sys.executable, "-c", FILELOCK_PROBE, str(path)], timeout=30, check=False)
    assert probe.returncode in (0, 3), probe
    return probe.returncode == 0


def test_file_lock_is_the_lock_filelock_takes(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "db.json.lock")
    assert lock.acquire(1)
    assert not _filelock_can_take(lock.path)  # tools that use filelock respect a buyer's lock
    lock.release()
    assert _filelock_can_take(lock.path)
    lock.close()

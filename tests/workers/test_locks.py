from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from workers.errors import LockTimeout
from workers.locks import BuyerLock, FileLock, NoLock, ProcessLock, make_lock

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
    db_path = tmp_path / "db.json"
    file_lock = make_lock("file", fork, db_path)
    assert isinstance(file_lock, FileLock) and file_lock.path == tmp_path / "db.json.lock"
    assert isinstance(make_lock("process", fork, db_path), ProcessLock)
    assert isinstance(make_lock("none", fork, db_path), NoLock)


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

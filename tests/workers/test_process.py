"""Lean buyer processes behave as Processes to whoever starts them: exit codes, sentinels, join, close; and
forking one needs no multiprocessing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from multiprocessing.connection import wait

import pytest

from workers.process import LeanProcess


def _fail() -> None:
    raise RuntimeError("the buyer broke")


def _exit_with(code: int) -> None:
    sys.exit(code)


def _write(fd: int) -> None:
    os.write(fd, b"ran")


def test_a_lean_process_runs_its_target_and_reports_exit_code_0() -> None:
    read_end, write_end = os.pipe()
    process = LeanProcess(target=_write, args=(write_end,))
    process.start()
    os.close(write_end)
    process.join(10)
    assert process.exitcode == 0
    assert os.read(read_end, 3) == b"ran"
    os.close(read_end)
    process.close()


def test_an_exception_in_the_target_is_printed_and_exits_1(capfd: pytest.CaptureFixture[str]) -> None:
    process = LeanProcess(target=_fail)
    process.start()
    process.join(10)
    assert process.exitcode == 1
    assert "RuntimeError: the buyer broke" in capfd.readouterr().err


def test_sys_exit_in_the_target_gives_its_code() -> None:
    process = LeanProcess(target=_exit_with, args=(3,))
    process.start()
    process.join(10)
    assert process.exitcode == 3


def test_the_sentinel_is_ready_once_the_child_is_gone_and_a_kill_shows() -> None:
    process = LeanProcess(target=signal.pause)
    process.start()
    assert wait([process.sentinel], timeout=0.2) == []
    process.kill()
    assert wait([process.sentinel], timeout=10) == [process.sentinel]
    process.join(10)
    assert process.exitcode == -9
    process.close()
    with pytest.raises(ValueError):
        process.is_alive()  # closed: its pipe is gone


def test_a_process_that_ended_is_joined_once_and_cannot_be_started_again() -> None:
    process = LeanProcess(target=_exit_with, args=(0,))
    process.start()
    process.join(10)
    assert (process.exitcode, process.is_alive()) == (0, False)
    process.join(10)  # already reaped: returns at once
    with pytest.raises(ValueError, match="started already"):
        process.start()
    process.close()


def test_a_running_process_cannot_be_closed_and_join_with_a_timeout_returns_while_it_runs() -> None:
    process = LeanProcess(target=signal.pause, name="ticketrush-buyer-7")
    process.start()
    try:
        process.join(0.05)
        assert process.is_alive() and process.exitcode is None
        with pytest.raises(ValueError, match="ticketrush-buyer-7 is still running"):
            process.close()
        process.terminate()
        process.join(10)
        assert process.exitcode == -signal.SIGTERM
    finally:
        process.kill()
        process.join(10)
        process.close()


def test_multiprocessing_is_imported_only_when_a_strategy_makes_a_lock_with_the_fork_context() -> None:
    script = (
        "import sys\n"
        "from workers.process import LeanProcess, fork_context\n"
        "context = fork_context()\n"
        "p = LeanProcess(target=print, args=('child ran',))\n"
        "p.start(); p.join(10)\n"
        "print('before', 'multiprocessing' in sys.modules, 'threading' in sys.modules, flush=True)\n"
        "lock = context.Lock()\n"
        "print('after', 'multiprocessing' in sys.modules, lock.acquire(timeout=1))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-S", "-P", "-c", script],
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    assert out[:3] == ["child ran", "before False False", "after True True"]

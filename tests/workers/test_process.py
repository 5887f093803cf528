"""Lean buyer processes behave as Processes to whoever starts them: exit codes, sentinels, join, close."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from multiprocessing.connection import wait

import pytest

from workers.process import LeanProcess, start_untracked


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
    start_untracked(process)
    assert process not in multiprocessing.active_children()  # the run joins it itself
    assert wait([process.sentinel], timeout=0.2) == []
    process.kill()
    assert wait([process.sentinel], timeout=10) == [process.sentinel]
    process.join(10)
    assert process.exitcode == -9
    process.close()
    with pytest.raises(ValueError):
        process.is_alive()  # closed: its pipe is gone

"""Lean buyer processes behave as Processes to whoever starts them: exit codes, sentinels, join, close; and
forking one needs no multiprocessing."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys

import pytest

from workers.process import ChildExits, LeanProcess


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


def test_child_exits_turns_readable_when_a_child_dies_and_reaps_it_with_its_cause() -> None:
    exits = ChildExits()
    processes = [LeanProcess(target=signal.pause) for _ in range(3)]
    try:
        for process in processes:
            process.start()
        assert select.select([exits], [], [], 0.2)[0] == []  # all still running
        processes[1].kill()
        assert select.select([exits], [], [], 10)[0] == [exits]
        reaped = exits.reap()
        for _ in range(10):  # a second look, should the signal come before the child can be reaped
            if reaped:
                break
            select.select([exits], [], [], 0.5)
            reaped = exits.reap()
        assert [pid for pid, _ in reaped] == [processes[1].pid]
        processes[1].ended(reaped[0][1])
        assert processes[1].exitcode == -9 and not processes[1].is_alive()
        assert processes[0].is_alive() and processes[2].is_alive()
    finally:
        for process in processes:
            process.kill()
            process.join(10)
        exits.close()
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL  # put back as it was
    assert signal.set_wakeup_fd(-1) == -1


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
        "from workers.process import ChildExits, LeanProcess, fork_context\n"
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

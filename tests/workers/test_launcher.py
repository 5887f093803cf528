"""The launcher: buyers are forked by a small process of their own, whatever the caller is."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import Pipe
from pathlib import Path

import psutil
import pytest

import workers
from workers import RunFailed, SimulationConfig, launcher, run_simulation
from workers.channel import RecordChannel
from workers.gates import StartLine
from workers.process import LeanProcess
from workers.stores.file import FileStore
from workers.strategies import Plan

PACKAGE_ROOT = Path(workers.__file__).resolve().parent.parent


def test_the_launcher_imports_only_the_buyers_side_of_the_engine() -> None:
    heavy = ("pydantic", "workers.config", "dataclasses", "traceback")
    probe = f"import sys, workers.launcher; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-S", "-P", "-c", probe],
        env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]"  # what a buyer fork copies stays small


def test_buyers_are_the_launchers_children_not_the_callers(run_dir: Path) -> None:
    seen: list[tuple[list[int], list[int]]] = []

    def look() -> bool:
        launchers = psutil.Process().children()
        buyers = [b.pid for p in launchers for b in p.children()]
        if not seen and len(buyers) == 6:
            seen.append(([p.pid for p in launchers], buyers))
        return False

    config = SimulationConfig(buyers=6, tickets=1, lock="none", think_ms=1000, hold_ms=0)
    report = run_simulation(config, run_dir, should_stop=look)
    assert seen, "never saw the six buyers"
    (launchers, buyers) = seen[0]
    assert len(launchers) == 1
    assert sorted(buyers) == sorted(r.pid for r in report.records)  # one process per buyer, under the launcher


def test_a_caller_with_threads_still_races_its_buyers(run_dir: Path) -> None:
    done = threading.Event()
    other = threading.Thread(target=done.wait, args=(60,))
    other.start()
    try:
        result = run_simulation(SimulationConfig(buyers=10, tickets=1, lock="none", seed=3), run_dir).result
    finally:
        done.set()
        other.join(10)
    assert result.oversold >= 1 and result.buyers_errored == 0


def test_a_killed_launcher_fails_the_run_and_takes_its_buyers_with_it(run_dir: Path) -> None:
    buyers: list[psutil.Process] = []

    def kill_the_launcher() -> bool:
        if not buyers:
            (launcher,) = psutil.Process().children()
            found = launcher.children()
            if len(found) == 5:
                buyers.extend(found)
                os.kill(launcher.pid, signal.SIGKILL)
        return False

    config = SimulationConfig(buyers=5, tickets=5, lock="file", think_ms=60_000, hold_ms=0)
    with pytest.raises(RunFailed, match="launcher was killed by signal 9"):
        run_simulation(config, run_dir, should_stop=kill_the_launcher, time_limit_s=60)
    _, alive = psutil.wait_procs(buyers, timeout=10)
    assert alive == []  # they died with the launcher (PR_SET_PDEATHSIG)


def test_a_workers_package_in_the_callers_folder_does_not_replace_the_engine(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = tmp_path / "elsewhere" / "workers"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise ImportError('not the engine')\n")
    monkeypatch.chdir(decoy.parent)
    result = run_simulation(SimulationConfig(buyers=5, tickets=2, lock="file", think_ms=0, hold_ms=0), run_dir).result
    assert result.buyers_errored == 0 and result.tickets_sold == 2


REHEARSAL_PROBE = """
import dis, sys
from pathlib import Path
from workers.launcher import rehearse
from workers.stores.file import FileStore
from workers.strategies import Plan, strategy_class

strategy = sys.argv[3]
buy = strategy_class(strategy).buy

def specialised():
    return sum(i.opname not in dis.opmap and not i.opname.endswith("_ADAPTIVE")
               for i in dis.get_instructions(buy, adaptive=True))

store = FileStore(Path(sys.argv[1]))
store.create(7)
before = specialised()
plan = Plan(strategy=strategy, lock=sys.argv[2], think_ms=(5.0, 5.0), hold_ms=(5.0, 5.0), lock_timeout_s=5.0)
rehearse(plan, store)
print(before, specialised(), store.read(), *sorted(p.name for p in store.run_dir.iterdir()))
"""


def test_a_rehearsal_stops_at_once_when_another_tool_holds_the_runs_file_lock(tmp_path: Path) -> None:
    (tmp_path / "db.json.lock").touch()
    holder = os.open(tmp_path / "db.json.lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as filelock.FileLock would, in some other program
    try:
        started = time.monotonic()
        out = _rehearse_in_a_fresh_launcher(tmp_path, "file", "read-write")
        took = time.monotonic() - started
    finally:
        os.close(holder)
    assert out.split()[2:] == ["7", "db.json", "db.json.lock"]  # nothing sold, nothing left
    assert took < 5  # not 20 buyers each waiting out the run's 5 s lock timeout


def _rehearse_in_a_fresh_launcher(folder: Path, lock: str, strategy: str) -> str:
    """Run REHEARSAL_PROBE in a process like the launcher; return what it prints."""
    return _probe(["-S", "-P"], REHEARSAL_PROBE, str(folder), lock, strategy)


def _probe(flags: list[str], script: str, *args: str) -> str:
    """What `script` prints, run by a fresh interpreter started with `flags` that imports this engine."""
    return subprocess.run(
        [sys.executable, *flags, "-c", script, *args],
        env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


@pytest.mark.parametrize(
    ("strategy", "lock"),
    [("read-write", "none"), ("read-write", "process"), ("read-write", "file"), ("read-write", "semaphore"),
     ("optimistic", "none")],
)  # fmt: skip
def test_the_rehearsal_leaves_the_buyers_code_specialised_and_the_run_folder_as_it_was(
    tmp_path: Path, strategy: str, lock: str
) -> None:
    before, after, count, *files = _rehearse_in_a_fresh_launcher(tmp_path, lock, strategy).split()
    assert before == "0" and int(after) > 10  # buyers forked from here inherit specialised code
    # the real db untouched, no scratch file left; the file lock rehearsed is the run's own
    assert count == "7" and files == (["db.json", "db.json.lock"] if lock == "file" else ["db.json"])


def test_a_fork_that_fails_mid_launch_is_reported_and_the_buyers_started_are_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = Plan()
    store = FileStore(tmp_path)
    store.create(1)
    starts: list[object] = []
    start = LeanProcess.start

    def third_fork_fails(process: LeanProcess) -> None:
        starts.append(process)
        if len(starts) == 3:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        start(process)

    monkeypatch.setattr(LeanProcess, "start", third_fork_fails)
    coordinator_end, launcher_end = Pipe()
    results = RecordChannel.open()
    job = ([range(b, b + 1) for b in range(1, 6)], plan, store, True)
    buyers_launcher = launcher._Launcher(launcher_end, RecordChannel.for_writing(results.writer), job)
    try:
        with pytest.raises(launcher.Stop):
            buyers_launcher.launch()
        assert coordinator_end.recv() == (
            "failed",
            "could not start buyer process 3: [Errno 11] Resource temporarily unavailable",
        )
        waiting = [process for _, process in buyers_launcher.live.values()]
        assert len(waiting) == 2 and all(p.is_alive() for p in waiting)  # at the start line, never released
        pids = [p.pid for p in waiting]
    finally:
        buyers_launcher.stop()
        results.close()
    assert not any(psutil.pid_exists(pid) for pid in pids)  # stopped and joined, not left at the start line


def test_a_start_line_holds_every_waiting_process_until_one_release_lets_them_all_go() -> None:
    line = StartLine()
    told_r, told_w = os.pipe()
    children = []
    for _ in range(20):
        pid = os.fork()
        if pid == 0:  # each child says whether it was held for 0.2 s, then whether one release let it go
            os.write(told_w, b"H" if not line.wait(0.2) else b"x")
            os.write(told_w, b"R" if line.wait(30) else b"x")
            os._exit(0)
        children.append(pid)
    os.close(told_w)
    try:
        held = b"".join(os.read(told_r, 1) for _ in range(20))
        line.release()
        released = b""
        while chunk := os.read(told_r, 64):
            released += chunk
    finally:
        for pid in children:
            os.waitpid(pid, 0)
        os.close(told_r)
        line.close()
    assert (held, released) == (b"H" * 20, b"R" * 20)


LAUNCH_PROBE = """
import socket, sys
from pathlib import Path
from workers import launcher
from workers.channel import RecordChannel
from workers.frames import FramedEnd
from workers.stores.file import FileStore
from workers.strategies import Plan

store = FileStore(Path(sys.argv[1]))
store.create(7)
plan = Plan(lock=sys.argv[2], think_ms=(0.0, 0.0), hold_ms=(0.0, 0.0), lock_timeout_s=10.0, start_timeout_s=10.0)
coordinator_end, launcher_end = socket.socketpair()
results = RecordChannel.open()
job = ([range(b, b + 1) for b in range(1, 21)], plan, store, True)
run = launcher._Launcher(FramedEnd(launcher_end.detach()), RecordChannel.for_writing(results.writer), job)
results.writer = None  # the launcher's copy is closed once the buyers are forked
run.launch()
loaded = [m for m in ("multiprocessing", "threading", "subprocess") if m in sys.modules]
run.watch()
records = []
while len(records) < 20:
    records += results.receive()
print(" ".join(loaded) or "-", sum(r.outcome == "success" for r in records), store.read())
"""


@pytest.mark.parametrize(("lock", "light"), [("file", True), ("none", True), ("process", False)])
def test_a_launcher_forks_its_buyers_without_multiprocessing_unless_the_lock_is_one_of_its(
    tmp_path: Path, lock: str, light: bool
) -> None:
    out = _probe(["-S", "-P"], LAUNCH_PROBE, str(tmp_path), lock).split()
    # lighter forks: no threading after-fork hook in each buyer (python -m bench.forkweight measures it)
    loaded = set(out[:-2])
    assert loaded == {"-"} if light else {"multiprocessing", "threading"} <= loaded
    if lock != "none":
        assert out[-2:] == ["7", "0"]  # every buyer ran: 7 sold, none left, nothing oversold


FEW_DESCRIPTORS_PROBE = """
import resource, sys
from pathlib import Path
from workers import SimulationConfig, run_simulation

resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
config = SimulationConfig(buyers=300, tickets=30, lock="file", executor="process", think_ms=0, hold_ms=0)
result = run_simulation(config, Path(sys.argv[1]) / "run").result
print(result.tickets_sold, result.buyers_errored, result.oversold)
"""


def test_a_run_of_more_buyer_processes_than_the_process_may_open_descriptors_runs_whole(tmp_path: Path) -> None:
    # the launcher keeps no descriptor per buyer: 300 buyer processes under a limit of 128 open files
    assert _probe([], FEW_DESCRIPTORS_PROBE, str(tmp_path)).split() == ["30", "0", "0"]

"""Real ticketrush servers in subprocesses, and the checks that no process outlives them.

A server started here runs `python -m app.cli serve` on a free port with TICKETRUSH_DATA_DIR set to its own
temporary folder; or, as `make run` starts it (`Server.like_make_run`), the `ticketrush serve` command in a project
folder of its own with no TICKETRUSH_* variable at all, so that it keeps its data in ./data. Every server is
marked with LIVE_SERVER_DATA_DIR, which every process it starts (run processes, buyers) inherits, so after the
server is gone a scan of /proc finds any process left behind, even one that was reparented.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from app.runner import RUNNING_NAME
from app.standby import WAITING_NAME

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0
GONE_TIMEOUT_S = 15.0
TERMINAL = {"completed", "failed", "cancelled", "interrupted"}
MARK = "LIVE_SERVER_DATA_DIR"
TICKETRUSH = Path(sys.executable).with_name("ticketrush")  # the command `make run` runs


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def when(text: str) -> datetime:
    """An API timestamp (ISO 8601, UTC) as a datetime, so that times compare exactly."""
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0), text
    return moment


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text as {'name{labels}': value}."""
    return {
        name: float(value)
        for line in text.splitlines()
        if line and not line.startswith("#")
        for name, value in [line.rsplit(" ", 1)]
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_resource_tracker(process: psutil.Process) -> bool:
    """multiprocessing's resource tracker: one per process that has used "spawn", gone when that process is."""
    try:
        return any("multiprocessing.resource_tracker" in part for part in process.cmdline())
    except psutil.Error:
        return False


def waits_for_a_run(process: psutil.Process) -> bool:
    """A run process started ahead of need and waiting for a run (app.standby), or the launcher it keeps ready."""
    try:
        parent = process.parent()
        return WAITING_NAME in (process.name(), parent.name() if parent is not None else None)
    except psutil.Error:
        return False


def is_servers_own(process: psutil.Process) -> bool:
    """Part of a server at rest: the resource tracker, and the run process waiting for the next run."""
    return is_resource_tracker(process) or waits_for_a_run(process)


def processes_marked(data_dir: Path) -> list[psutil.Process]:
    """Every live process of the server on data_dir (marked with MARK), wherever it sits in the process tree."""
    marked = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == str(data_dir) and process.status() != "zombie":
                marked.append(process)
        except psutil.Error:
            continue
    return marked


def buyers_of(run: psutil.Process) -> list[psutil.Process]:
    """A run process's buyers: the children of its launcher (workers.launcher), the run's one child."""
    buyers = []
    try:
        for launcher in run.children():
            buyers += launcher.children()
    except psutil.NoSuchProcess:
        pass
    return buyers


def own_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if not is_resource_tracker(p)]


def serve_command(port: int) -> list[str]:
    return [str(TICKETRUSH), "serve", "--host", "127.0.0.1", "--port", str(port)]


def default_environment(**env: str) -> dict[str, str]:
    """This environment without any TICKETRUSH_* setting, plus `env`: the server's defaults, as `make run` gets."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TICKETRUSH_")}, **env}


class Server:
    """A real ticketrush server in a subprocess, and an httpx client for it."""

    def __init__(self, data_dir: Path, env: dict[str, str], *, project_root: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-server-{self.port}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- closed in stop()/kill()
        if project_root is None:
            command = [sys.executable, "-m", "app.cli", *serve_command(self.port)[1:]]
            environment = {**os.environ, "TICKETRUSH_DATA_DIR": str(data_dir), **env}
        else:
            command = serve_command(self.port)
            environment = default_environment(**env)
        self.process = subprocess.Popen(
            command,
            cwd=project_root or REPO,
            env={**environment, MARK: str(data_dir)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=30.0)
        wait_for(self._ready, START_TIMEOUT_S, f"the server on port {self.port} to answer")

    @classmethod
    def like_make_run(cls, project_root: Path, env: dict[str, str]) -> Server:
        """`ticketrush serve` started in `project_root` with the default settings: its data is ./data there."""
        return cls(project_root / "data", env, project_root=project_root)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"the server exited with code {self.process.returncode}:\n{self.log()}")
        try:
            return self.client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    # -- talking to it ---------------------------------------------------------------------------------------

    def post(self, config: dict[str, Any], expect: int = 202) -> dict[str, Any]:
        response = self.client.post("/simulations", json=config)
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, sim_id: str) -> dict[str, Any]:
        response = self.client.get(f"/simulations/{sim_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_until(self, sim_id: str, condition: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> Any:
        def check() -> dict[str, Any] | None:
            simulation = self.get(sim_id)
            return simulation if condition(simulation) else None

        return wait_for(check, timeout, f"simulation {sim_id} to be {what}", interval=0.1)

    def wait_finished(self, sim_id: str, timeout: float = 60.0) -> dict[str, Any]:
        simulation: dict[str, Any] = self.wait_until(sim_id, lambda s: s["status"] in TERMINAL, timeout, "finished")
        return simulation

    def run_processes(self) -> list[psutil.Process]:
        """The server's live children that run a simulation (named so by app.runner): one per running simulation."""
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [p for p in children if _named(p, RUNNING_NAME) and _alive(p)]

    def descendants(self) -> list[psutil.Process]:
        """The server's live child processes and theirs (run processes, buyers), but its own (`is_servers_own`)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in children if not is_servers_own(p) and _alive(p)]

    # -- stopping it -----------------------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM, as a service manager would; the server must shut down cleanly and leave nothing behind."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                pytest.fail(f"the server did not stop within {STOP_TIMEOUT_S:g} s of SIGTERM:\n{self.log()}")
            assert "Application shutdown complete" in self.log(), self.log()
        self._close()
        self.assert_nothing_left()

    def kill(self) -> None:
        """SIGKILL: no clean-up runs in the server."""
        self.process.kill()
        self.process.wait(10)
        self._close()

    def assert_nothing_left(self) -> None:
        wait_for(
            lambda: not processes_marked(self.data_dir),
            GONE_TIMEOUT_S,
            f"every process of the server on {self.data_dir} to be gone",
        )

    def _close(self) -> None:
        self.client.close()
        self._log.close()


def _named(process: psutil.Process, name: str) -> bool:
    try:
        return bool(process.name() == name)
    except psutil.Error:
        return False


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

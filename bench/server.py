"""The real HTTP server under load: `ticketrush serve` on a free port, with a data folder of its own.

with Server() as server:
    api = measure_api(server, buyers=1000)     # latency of GET and POST while a big run goes
    mem = measure_run_memory(server, 1000)     # peak PSS of the server and all its descendants
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.memory import PeakPss
from bench.procs import ROOT

TERMINAL = {"completed", "failed", "cancelled", "interrupted"}
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("ticketrush")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


class Server:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env or {}
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="ticketrush-bench-server-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Server:
        env = dict(os.environ, **self.env, TICKETRUSH_DATA_DIR=str(self.data_dir))
        with open(self.data_dir / "server.log", "wb") as log:
            self.process = subprocess.Popen(
                [*_serve_command(), "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.process.returncode}: {self._log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self._stop()
        raise RuntimeError(f"the server did not answer /healthz within {START_TIMEOUT_S:g} s")

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # anything its runs left behind
            os.killpg(self.process.pid, signal.SIGKILL)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def wait_finished(self, sim_id: str, timeout_s: float = RUN_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body: dict[str, Any] = httpx.get(f"{self.base_url}/simulations/{sim_id}", timeout=30).json()
            if body["status"] in TERMINAL:
                return body
            time.sleep(0.05)
        raise RuntimeError(f"simulation {sim_id} did not finish within {timeout_s:g} s")


def big_run(buyers: int) -> dict[str, Any]:
    """The run the API is measured against: the process executor, the lesson's lock, zero delays."""
    return {"buyers": buyers, "tickets": max(1, buyers // 10), "lock": "process", "think_ms": 0, "hold_ms": 0}


SMALL_RUN = {"buyers": 2, "tickets": 1, "lock": "file", "think_ms": 0, "hold_ms": 0}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the value at or below which `fraction` of the values fall)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def _client(server: Server) -> httpx.AsyncClient:
    """One client: one keep-alive connection of its own, as a browser polling the API would have.

    (A single AsyncClient shared by 50 tasks spends ~13 ms of CPU per request in its connection pool here,
    against ~4 ms for a client each, and the measurement would time the load generator instead of the server.)
    """
    return httpx.AsyncClient(base_url=server.base_url, timeout=30, verify=False)


async def _load(server: Server, buyers: int, clients: int, pace_s: float | None, post_every_s: float) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        readers = [await stack.enter_async_context(_client(server)) for _ in range(clients)]
        poster_client = await stack.enter_async_context(_client(server))
        await asyncio.gather(*(c.get("/healthz") for c in [*readers, poster_client]))  # connected before timing
        started = time.perf_counter()
        created = await poster_client.post("/simulations", json=big_run(buyers))
        posts = [time.perf_counter() - started]
        created.raise_for_status()
        sim_id = created.json()["id"]
        gets: list[float] = []
        errors = 0
        finished = asyncio.Event()

        async def reader(client: httpx.AsyncClient, phase_s: float) -> None:
            nonlocal errors
            with contextlib.suppress(asyncio.TimeoutError):  # paced clients start spread over one period
                await asyncio.wait_for(finished.wait(), phase_s)
            while not finished.is_set():
                sent = time.perf_counter()
                try:
                    response = await client.get(f"/simulations/{sim_id}")
                except httpx.HTTPError:
                    errors += 1
                    continue
                gets.append(time.perf_counter() - sent)
                if response.status_code != 200:
                    errors += 1
                elif response.json()["status"] in TERMINAL:
                    finished.set()
                if pace_s is not None:  # the next poll `pace_s` after this one was sent, like a dashboard
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(finished.wait(), max(0.0, sent + pace_s - time.perf_counter()))

        async def poster() -> list[str]:
            nonlocal errors
            small: list[str] = []
            while not finished.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(finished.wait(), post_every_s)
                if finished.is_set():
                    break
                sent = time.perf_counter()
                try:
                    response = await poster_client.post("/simulations", json=SMALL_RUN)
                except httpx.HTTPError:
                    errors += 1
                    continue
                posts.append(time.perf_counter() - sent)
                if response.status_code == 202:
                    small.append(response.json()["id"])
                else:
                    errors += 1
            return small

        posting = asyncio.create_task(poster())
        phases = [(pace_s or 0.0) * k / clients for k in range(clients)]
        await asyncio.wait_for(asyncio.gather(*map(reader, readers, phases)), timeout=RUN_TIMEOUT_S)
        small_ids = await posting
        run_s = time.perf_counter() - started
        final = (await poster_client.get(f"/simulations/{sim_id}")).json()
    for small_id in small_ids:
        server.wait_finished(small_id)
    return {"sim_id": sim_id, "gets": gets, "posts": posts, "errors": errors, "run_s": run_s, "final": final}


def measure_api(
    server: Server, buyers: int, clients: int = 50, pace_s: float | None = 0.5, post_every_s: float = 0.5
) -> dict[str, Any]:
    """Latency of GET /simulations/{id} from `clients` concurrent clients, each polling every `pace_s` (None:
    as fast as answers come), and of POST /simulations (one every `post_every_s`, of a small run), while a
    `buyers`-buyer process-executor run goes on."""
    data = asyncio.run(_load(server, buyers, clients, pace_s, post_every_s))
    gets, posts = data["gets"], data["posts"]
    result = data["final"].get("result") or {}
    return {
        "buyers": buyers,
        "clients": clients,
        "pace_s": pace_s,
        "run_status": data["final"]["status"],
        "run_errored": result.get("buyers_errored"),
        "run_s": round(data["run_s"], 3),
        "http_errors": data["errors"],
        "get_per_s": round(len(gets) / data["run_s"], 1),
        "get": {"count": len(gets), "p50_ms": percentile(gets, 0.5) * 1e3, "p99_ms": percentile(gets, 0.99) * 1e3},
        "post": {"count": len(posts), "p50_ms": percentile(posts, 0.5) * 1e3, "p99_ms": percentile(posts, 0.99) * 1e3},
    }


def measure_run_memory(server: Server, buyers: int) -> dict[str, Any]:
    """Peak PSS of the server and all its descendants while one `buyers`-buyer process-executor run goes."""
    with PeakPss(server.pid) as peak:
        created = httpx.post(f"{server.base_url}/simulations", json=big_run(buyers), timeout=30)
        created.raise_for_status()
        final = server.wait_finished(created.json()["id"])
    return {
        "buyers": buyers,
        "run_status": final["status"],
        "peak_pss_mib": round(peak.kib / 1024, 1),
        "processes_at_peak": peak.processes,
        "samples": peak.samples,
    }


def _timings(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The runs' own time (started_at to finished_at) and the gaps between one's end and the next one's start."""
    spans = [(datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in runs]
    spans.sort()
    gaps = [(later[0] - earlier[1]).total_seconds() * 1000 for earlier, later in itertools.pairwise(spans)]
    return {
        "in_runs_s": sum((end - start).total_seconds() for start, end in spans),
        "gap_p50_ms": percentile(gaps, 0.5) if gaps else 0.0,
        "runs": len(runs),
    }


def _get_p50_ms(client: httpx.Client, path: str, count: int = 20) -> float:
    took = []
    for _ in range(count):
        sent = time.perf_counter()
        client.get(path).raise_for_status()
        took.append((time.perf_counter() - sent) * 1000)
    return percentile(took, 0.5)


def experiment_vs_runs(server: Server, config: dict[str, Any], values: int, trials: int) -> dict[str, Any]:
    """An experiment of `values` x `trials` runs, then the same runs (the same configs and seeds) posted one at a
    time by a client that waits for each to finish; both polled every 20 ms."""
    body = {"config": config, "trials": trials, "vary": {"field": "hold_ms", "values": list(range(values))}}
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        started = time.perf_counter()
        created = client.post("/experiments", json=body)
        created.raise_for_status()
        location = created.headers["Location"]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (experiment := client.get(location).json())["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise RuntimeError(f"experiment {location} did not finish within {RUN_TIMEOUT_S:g} s")
            time.sleep(0.02)
        experiment_wall = time.perf_counter() - started
        if experiment["status"] != "completed":
            raise RuntimeError(f"experiment {location} {experiment['status']}: {experiment['error']}")
        order = [p["trials"][k] for k in range(trials) for p in experiment["points"]]
        trial_runs = [client.get(f"/simulations/{sim_id}").json() for sim_id in order]
        plain = []
        started = time.perf_counter()
        for trial in trial_runs:
            posted = client.post("/simulations", json=trial["config"])
            posted.raise_for_status()
            sim_id = posted.json()["id"]
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while (run := client.get(f"/simulations/{sim_id}").json())["status"] not in TERMINAL:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"simulation {sim_id} did not finish within {RUN_TIMEOUT_S:g} s")
                time.sleep(0.02)
            plain.append(run)
        runs_wall = time.perf_counter() - started
        return {
            "experiment": {"wall_s": experiment_wall, **_timings(trial_runs)},
            "runs": {"wall_s": runs_wall, **_timings(plain)},
            "get_experiment_p50_ms": _get_p50_ms(client, location),
            "get_simulation_p50_ms": _get_p50_ms(client, f"/simulations/{order[0]}"),
        }

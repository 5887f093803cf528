"""Resources over time and under a burst, on a real server: nothing leaks across a hundred simulations, and
admission control holds the number of processes to what the settings allow.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psutil
import pytest
from live_server import Server, is_servers_own, wait_for

from app.settings import Settings

pytestmark = pytest.mark.slow

TINY = {"buyers": 2, "tickets": 1, "lock": "file", "think_ms": 0, "hold_ms": 0}
BACK_TO_BACK = 100
WARM_UP = 10
LAST = 5
MAX_NEW_FDS = 2
MAX_NEW_THREADS = 2
MAX_RSS_GROWTH_MB = 20.0


@dataclass(frozen=True)
class Usage:
    processes: int
    zombies: int
    fds: int
    threads: int
    rss_mb: float

    @classmethod
    def of(cls, server: Server) -> Usage:
        me = psutil.Process(server.process.pid)
        statuses = []
        for child in me.children(recursive=True):
            try:
                if not is_servers_own(child):
                    statuses.append(child.status())
            except psutil.NoSuchProcess:  # reaped while we looked
                continue
        zombies = statuses.count(psutil.STATUS_ZOMBIE)
        return cls(len(statuses) - zombies, zombies, me.num_fds(), me.num_threads(), me.memory_info().rss / 2**20)


def run_one(server: Server) -> None:
    simulation = server.wait_finished(server.post(TINY)["id"])
    assert simulation["status"] == "completed", simulation


def settled(server: Server) -> Usage:
    """Usage once the run just finished has been reaped (the dispatcher joins it within a poll)."""
    return wait_for(
        lambda: (u := Usage.of(server)).processes == 0 and u.zombies == 0 and u, 10, "the run process to be reaped"
    )


def test_resources_hundred_simulations_back_to_back_leak_nothing(start_server: Callable[..., Server]) -> None:
    """Usage is read after every run; single readings can catch a socket or a connection of the moment, so the
    least of the last readings is compared, before and after: a leak of one fd, thread or MB per run would
    still show as a rise of a hundred."""
    server = start_server()
    samples = []
    for _ in range(WARM_UP + BACK_TO_BACK):  # the warm-up loads modules and starts the request thread pool
        run_one(server)
        samples.append(settled(server))

    before, after = samples[WARM_UP - LAST : WARM_UP], samples[-LAST:]
    print(f"\nafter {WARM_UP} warm-up runs, least of the last {LAST}: {lowest(before)}")
    print(f"after {BACK_TO_BACK} more, least of the last {LAST}: {lowest(after)}")
    print(f"most at any reading: fds {max(s.fds for s in samples)}, threads {max(s.threads for s in samples)}, "
          f"rss {max(s.rss_mb for s in samples):.1f} MB")  # fmt: skip
    assert all(s.processes == 0 and s.zombies == 0 for s in samples)
    assert lowest(after).fds <= lowest(before).fds + MAX_NEW_FDS
    assert lowest(after).threads <= lowest(before).threads + MAX_NEW_THREADS
    assert lowest(after).rss_mb <= lowest(before).rss_mb + MAX_RSS_GROWTH_MB
    assert server.client.get("/simulations").json()["count"] == WARM_UP + BACK_TO_BACK


def lowest(samples: list[Usage]) -> Usage:
    """The least of each reading."""
    return Usage(*(min(getattr(s, name) for s in samples) for name in Usage.__dataclass_fields__))


class ProcessSampler:
    """Counts the live processes under the server every few milliseconds, in a thread, until stopped."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.most = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.most = max(self.most, len(self.server.descendants()))
            self.samples += 1

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)


BURST = 200
MAX_RUNNING = 2
MAX_QUEUED = 10
STANDBY = Settings.model_fields["standby"].default
BURST_CONFIG = {"buyers": 5, "tickets": 2, "lock": "file", "think_ms": 0, "hold_ms": [0, 20]}


async def post_burst(url: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=BURST)) as client:
        return list(await asyncio.gather(*(client.post("/simulations", json=BURST_CONFIG) for _ in range(BURST))))


def test_resources_burst_of_posts_is_admitted_or_refused_within_the_bound(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(TICKETRUSH_MAX_RUNNING=str(MAX_RUNNING), TICKETRUSH_MAX_QUEUED=str(MAX_QUEUED))
    # each running simulation is one run process, its launcher and one process per buyer; queued ones have none;
    # and the run processes starting up to wait for the next runs (counted until they have named themselves
    # ticketrush-wait)
    bound = MAX_RUNNING * (2 + BURST_CONFIG["buyers"]) + STANDBY  # type: ignore[operator]

    with ProcessSampler(server) as sampler:
        responses = asyncio.run(post_burst(server.url))
        admitted = [r.json()["id"] for r in responses if r.status_code == 202]
        for sim_id in admitted:
            simulation = server.wait_finished(sim_id, timeout=120)
            assert simulation["status"] == "completed", simulation
            assert simulation["result"]["safe"]

    codes = sorted({r.status_code for r in responses})
    refused = [r for r in responses if r.status_code == 429]
    print(f"\nburst: {len(admitted)} admitted, {len(refused)} refused; at most {sampler.most} processes "
          f"(bound {bound}) in {sampler.samples} samples")  # fmt: skip
    assert codes == [202, 429], codes
    assert len(admitted) >= MAX_RUNNING + MAX_QUEUED
    assert all("TICKETRUSH_MAX_QUEUED" in r.json()["detail"] for r in refused)
    assert 0 < sampler.most <= bound
    assert server.client.get("/simulations").json()["count"] == len(admitted)
    wait_for(lambda: server.descendants() == [], 10, "the last run process to be reaped")

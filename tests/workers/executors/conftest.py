"""A real Dask cluster for the dask executor's tests (bench.cluster: `dask scheduler` and two `dask worker`
processes on 127.0.0.1), and the servers of tests/servers.py. The fixture that starts a cluster stops it, and
checks that none of its processes is left."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import pytest

from bench.cluster import Cluster, Place, start_cluster, stop_cluster
from tests.namespaces import Forwarder, Hosts, refusal, two_hosts
from tests.servers import drop_runs_under, servers_of


@pytest.fixture(autouse=True)
def nothing_left_on_the_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    """What a test's runs made on the servers (tables, keys) goes with the test."""
    servers = servers_of(request)
    yield
    drop_runs_under(tmp_path, servers)


def _pids(cluster: Cluster) -> set[int]:
    pids = set()
    for process in cluster.processes:
        pids.add(process.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            pids.update(c.pid for c in psutil.Process(process.pid).children(recursive=True))
    return pids


_SHARED: list[Cluster] = []  # the module's cluster while it runs: its processes are not a test's leftovers


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two workers of two threads each: four tasks run at once."""
    running = start_cluster(tmp_path_factory.mktemp("dask"), workers=2, threads=2)
    _SHARED.append(running)
    yield running
    _SHARED.remove(running)
    stop_cluster(running)


@dataclass
class TwoHosts:
    """A cluster whose two workers run in network namespaces of their own, and the store URLs they reach."""

    cluster: Cluster
    hosts: Hosts
    store_urls: dict[str, str]


def _forward(to: str, host: str) -> tuple[Forwarder, str]:
    """A forwarder on `host` to the server of URL `to`, and the URL that reaches the server through it."""
    parts = urlsplit(to)
    forwarder = Forwarder(host, (parts.hostname or "127.0.0.1", parts.port or 0))
    where = f"{forwarder.address[0]}:{forwarder.address[1]}"
    netloc = f"{parts.username}@{where}" if parts.username else where
    return forwarder, urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="module")
def cluster_on_two_hosts(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> Iterator[TwoHosts]:
    """Two workers of two threads, each in a network namespace of its own (tests/namespaces.py), the scheduler
    and forwarders to PostgreSQL and Redis on this namespace's side of the first veth pair; skipped, saying why,
    where the machine refuses namespaces."""
    refused = refusal()
    if refused is not None:
        pytest.skip(refused)
    with contextlib.ExitStack() as stack:
        hosts = stack.enter_context(two_hosts())
        urls = {}
        for kind, url in (("postgres", postgres_url), ("redis", redis_url)):
            forwarder, urls[kind] = _forward(url, hosts.gateways[0])
            stack.callback(forwarder.close)
        places = [Place(hosts.prefix(i), hosts.addresses[i]) for i in range(2)]
        running = start_cluster(tmp_path_factory.mktemp("dask"), threads=2, host=hosts.gateways[0], places=places)
        _SHARED.append(running)
        stack.callback(stop_cluster, running)
        stack.callback(_SHARED.remove, running)
        yield TwoHosts(running, hosts, urls)


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster for one test that kills a worker: two workers of one thread each."""
    running = start_cluster(tmp_path / "dask", workers=2, threads=1)
    yield running
    stop_cluster(running)


@pytest.fixture(autouse=True)
def no_children_left() -> Iterator[None]:
    """Every test leaves no process behind but the module's cluster, which its own fixture stops and checks (a
    test's own cluster is stopped before this looks)."""
    yield
    kept = {pid for shared in _SHARED for pid in _pids(shared)}
    me = psutil.Process()
    deadline = time.monotonic() + 2.0  # a just-killed child may take a moment
    while True:
        left = [c for c in me.children(recursive=True) if c.is_running() and c.pid not in kept]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    descriptions = [f"{c.pid} {c.name()} {c.status()}" for c in left]
    for child in left:
        child.kill()
    assert not left, f"child processes left behind: {descriptions}"

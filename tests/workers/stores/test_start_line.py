"""Buyers on a server store are released together only once every one of them has connected: one whose
connection is slow to come does not start its race late."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from workers import SimulationConfig, drop_store, run_simulation

pytestmark = pytest.mark.redis

SLOW_CONNECT_S = 3.0


class SlowProxy:
    """A TCP proxy to the Redis server whose `slow`-th connection is put through only after SLOW_CONNECT_S."""

    def __init__(self, upstream: tuple[str, int], slow: int) -> None:
        self.upstream = upstream
        self.slow = slow
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.accepted = 0
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self._start(self._serve, client, self.accepted == self.slow)

    def _serve(self, client: socket.socket, slow: bool) -> None:
        if slow and self.stopping.wait(SLOW_CONNECT_S):
            client.close()
            return
        server = socket.create_connection(self.upstream)
        self._start(self._pump, server, client)
        self._pump(client, server)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.1)
        try:
            while not self.stopping.is_set():
                try:
                    data = source.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(5)
        self.listener.close()
        assert not any(t.is_alive() for t in self.threads)


@pytest.fixture
def slow_third_connection(redis_url: str) -> Iterator[SlowProxy]:
    parts = urlsplit(redis_url)
    proxy = SlowProxy((parts.hostname or "127.0.0.1", parts.port or 6379), slow=3)
    yield proxy
    proxy.close()


def test_buyers_wait_at_the_start_line_until_the_slowest_has_connected(
    run_dir: Path, redis_url: str, slow_third_connection: SlowProxy
) -> None:
    urls = {"redis": f"redis://127.0.0.1:{slow_third_connection.port}{urlsplit(redis_url).path}"}
    config = SimulationConfig(buyers=5, tickets=5, store="redis", strategy="atomic", think_ms=0, hold_ms=0)
    report = run_simulation(config, run_dir, store_urls=urls)
    assert report.result.buyers_succeeded == 5
    starts = [r.t_start for r in report.records if r.t_start is not None]
    assert len(starts) == 5
    # The coordinator's connection (the tickets) is the first; the buyers' are the next five, one of them held
    # back SLOW_CONNECT_S. Released before it connected, that buyer would start that long after the others.
    assert (max(starts) - min(starts)) / 1e9 < SLOW_CONNECT_S / 2
    drop_store(config, run_dir, urls)

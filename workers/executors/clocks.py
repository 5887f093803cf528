"""One clock for records made on several hosts.

Each host's time.monotonic_ns() counts from its own boot, so timestamps of two hosts do not compare. Every
host asks the store's server for its time a few times and keeps the answer with the shortest round trip: the
server's clock minus the middle of that trip is the host's offset, and half the trip is how far it can be off.
Records of a host are put on the coordinator's clock by adding (host's offset - coordinator's offset). Hosts
that share a kernel (the same boot id: one machine, its containers and network namespaces included) share one
monotonic clock, and their timestamps compare exactly with no offset at all.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import NamedTuple

from workers.errors import StoreLost
from workers.speech import fact
from workers.stores.base import ServerStore, TicketStore, store_label

PROBES = 7
BOOT_ID = "/proc/sys/kernel/random/boot_id"


class ClockReading(NamedTuple):
    """A host's clock against the store server's: server time = monotonic + offset_ns, to within error_ns."""

    host: str
    clock: str  # the boot id: hosts with the same one share a monotonic clock
    offset_ns: int
    error_ns: int


def clock_id() -> str:
    """This kernel's boot id (hosts that share it share CLOCK_MONOTONIC), else this host's name."""
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return f"host:{socket.gethostname()}"


def _server_time(store: TicketStore) -> tuple[Callable[[], int], Callable[[], None]]:
    """A function that asks the store's server for its time in ns, on a connection of its own, and its closer."""
    if not isinstance(store, ServerStore):
        raise StoreLost(fact("cluster.no_clock", store=store_label(store)))
    if store.kind == "redis":
        import redis

        client = redis.Redis.from_url(store.url, socket_connect_timeout=10, socket_timeout=10)

        def redis_now() -> int:
            seconds, micros = client.time()
            return int(seconds) * 1_000_000_000 + int(micros) * 1000

        return redis_now, client.close
    import psycopg

    conn = psycopg.connect(store.url, autocommit=True, connect_timeout=10)

    def postgres_now() -> int:
        row = conn.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint").fetchone()
        assert row is not None
        return int(row[0]) * 1000

    return postgres_now, conn.close


def read_clock(store: TicketStore) -> ClockReading:
    """This host's offset to the store server's clock; StoreLost when the server cannot be asked."""
    try:
        now, close = _server_time(store)
    except StoreLost:
        raise
    except Exception as e:
        raise StoreLost(fact("cluster.clock_unread", store=store_label(store), words=str(e))) from e
    best: tuple[int, int] | None = None
    try:
        for _ in range(PROBES):
            before = time.monotonic_ns()
            server = now()
            after = time.monotonic_ns()
            trip = after - before
            if best is None or trip < 2 * best[1]:
                best = (server - (before + after) // 2, trip // 2)
    except Exception as e:
        raise StoreLost(fact("cluster.clock_unread", store=store_label(store), words=str(e))) from e
    finally:
        close()
    assert best is not None
    return ClockReading(socket.gethostname(), clock_id(), best[0], best[1])

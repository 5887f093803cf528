"""Hosts of their own on this machine: Linux network namespaces, each joined to this one by a veth pair, for the
dask executor's tests of buyers on two hosts.

    this namespace                         namespace <name>-1               namespace <name>-2
    10.R.1.1/24 ---- veth ---- 10.R.1.2/24 (default route: 10.R.1.1)
    10.R.2.1/24 ---- veth --------------------------------------------- 10.R.2.2/24 (default route: 10.R.2.1)

Every address of this namespace is reachable from both (their default route leads here), so a scheduler or a
forwarder listening on 10.R.1.1 serves both. PostgreSQL and Redis listen on 127.0.0.1, which another namespace
cannot reach: a `Forwarder` on 10.R.1.1 passes each connection on to them. Making namespaces needs root, `ip`, and
a kernel (or container) that allows them; `refusal()` says precisely what is missing. Where it is the machine's
rule (not root, a kernel that refuses), its words begin with REFUSED and tests/conftest.py lets the skip stand
under CI; a missing `ip` is a missing install (.ci/run installs iproute2), so that skip fails under CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

REFUSED = "network namespaces: "
IP_TIMEOUT_S = 10
JOIN_TIMEOUT_S = 5.0


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False)


def refusal() -> str | None:
    """Why this machine cannot make network namespaces (starting with REFUSED), or None when it can."""
    if os.geteuid() != 0:
        return f"{REFUSED}making them needs root (this is uid {os.geteuid()})"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed (.ci/run installs it)"  # a missing install: fails under CI
    probe = f"trprobe{os.getpid()}"
    made = _ip("netns", "add", probe)
    if made.returncode != 0:
        return f"{REFUSED}the kernel refused `ip netns add`: {made.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


@dataclass(frozen=True)
class Hosts:
    """Two namespaces: `names[i]` reaches this namespace at `gateways[i]` and is itself at `addresses[i]`."""

    names: tuple[str, str]
    addresses: tuple[str, str]
    gateways: tuple[str, str]

    def prefix(self, i: int) -> tuple[str, ...]:
        """The command that runs a program in namespace i."""
        return ("ip", "netns", "exec", self.names[i])


def _free_subnet() -> int:
    """A second octet R for 10.R.0.0/16 that no route of this namespace uses (R from this process's id)."""
    routes = _ip("-4", "route", "show").stdout
    for step in range(50):
        r = 200 + (os.getpid() + step) % 50
        if f"10.{r}." not in routes:
            return r
    raise RuntimeError(f"no free 10.200-249.x.x subnet among the routes:\n{routes}")


@contextlib.contextmanager
def two_hosts() -> Iterator[Hosts]:
    """Two network namespaces joined to this one, removed (with their links) at the end."""
    tag = f"tr{os.getpid() % 100000}"
    r = _free_subnet()
    names = (f"{tag}-1", f"{tag}-2")
    links = (f"{tag}a1", f"{tag}a2")  # this namespace's ends; the namespaces' ends are named {tag}b1, {tag}b2
    try:
        for i, (name, link) in enumerate(zip(names, links, strict=True), start=1):
            peer = f"{tag}b{i}"
            for command in (
                ("netns", "add", name),
                ("link", "add", link, "type", "veth", "peer", "name", peer),
                ("link", "set", peer, "netns", name),
                ("addr", "add", f"10.{r}.{i}.1/24", "dev", link),
                ("link", "set", link, "up"),
                ("-n", name, "addr", "add", f"10.{r}.{i}.2/24", "dev", peer),
                ("-n", name, "link", "set", peer, "up"),
                ("-n", name, "link", "set", "lo", "up"),
                ("-n", name, "route", "add", "default", "via", f"10.{r}.{i}.1"),
            ):
                done = _ip(*command)
                if done.returncode != 0:
                    raise RuntimeError(f"ip {' '.join(command)}: {done.stderr.strip()}")
        yield Hosts(names, (f"10.{r}.1.2", f"10.{r}.2.2"), (f"10.{r}.1.1", f"10.{r}.2.1"))
    finally:
        for name, link in zip(names, links, strict=True):
            _ip("link", "del", link)  # its peer goes with it
            _ip("netns", "del", name)
        left = _ip("netns", "list").stdout
        assert not any(name in left for name in names), f"a namespace outlived its test: {left}"


class Forwarder:
    """Connections to (host, a port of its own) passed on, byte for byte, to `target` (host, port)."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server((host, 0))
        self.address = self.listener.getsockname()[:2]
        self.threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self.lock:
            self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target, timeout=IP_TIMEOUT_S)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            self._start(self._pump, client, server)
            self._start(self._pump, server, client)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)  # the other side's end of the stream, passed on

    def close(self) -> None:
        """Stop listening, close every connection, join every thread."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            sockets, threads = list(self.sockets), list(self.threads)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        assert not any(t.is_alive() for t in threads), "a forwarding thread outlived its forwarder"

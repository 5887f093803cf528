"""One data dir belongs to one server at a time.

A server takes an exclusive `flock` on data_dir/server.lock before it touches anything else there (the store,
the interrupted runs of a previous life) and holds it while it lives; the file holds its pid. The kernel drops
the lock when the server's process ends however it ends, so a server killed with SIGKILL never leaves a stale
claim. A second server finds the lock taken and stops, having changed nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from workers.speech import Fact, fact, said

LOCK_NAME = "server.lock"


class DataDirInUse(Exception):
    """Another server holds this data dir."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        super().__init__(data_dir, pid)
        self.data_dir = data_dir
        self.pid = pid

    @property
    def fact(self) -> Fact:
        """What it says, in any language (workers.speech)."""
        holder = fact("serve.holder", pid=self.pid) if self.pid else fact("serve.holder_unknown")
        return fact("serve.data_dir_in_use", data_dir=str(self.data_dir), holder=holder)

    def __str__(self) -> str:
        return said(self.fact)


class DataDirClaim:
    """The lock on a data dir, held until `release` (or until the process ends)."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd: int | None = fd

    @classmethod
    def take(cls, data_dir: Path) -> DataDirClaim:
        """Claim `data_dir` (created if missing) for this process; raise DataDirInUse if a server holds it."""
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _pid_in(fd)
            os.close(fd)
            raise DataDirInUse(data_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(data_dir, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no pid of a server that is gone
        os.close(fd)


def _pid_in(fd: int) -> int | None:
    """The holder's pid as it wrote it; None if it has not written it yet (it took the lock a moment ago)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None

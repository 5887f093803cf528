"""Messages over a pipe or a socket, framed as `multiprocessing.connection.Connection` frames them: a 4-byte
big-endian length, then the bytes (a length of -1 is followed by the real one in 8 bytes). Either end of a link
may then be a Connection and the other a `FramedEnd`.

The launcher and the result channel's reader use a FramedEnd instead of a Connection because importing
multiprocessing.connection brings in threading, and a process that has imported threading runs threading's
after-fork hook in every child it forks: work, and copy-on-write faults, in each of a thousand buyers (see
workers.launcher).

    end = FramedEnd(fd)
    end.send(("started", 123))       # pickled, framed, written whole
    if end.poll(1.0):
        message = end.recv()         # EOFError once the other end has closed
"""

from __future__ import annotations

import os
import pickle
import select
import struct
from typing import Any

FRAME_HEADER = struct.Struct("!i")
_LONG_HEADER = struct.Struct("!Q")
_LONGEST_SHORT = 0x7FFFFFFF


def frame(data: bytes) -> bytes:
    """`data` as one message that Connection.recv_bytes (or FramedEnd.recv_bytes) reads."""
    if len(data) > _LONGEST_SHORT:
        return FRAME_HEADER.pack(-1) + _LONG_HEADER.pack(len(data)) + data
    return FRAME_HEADER.pack(len(data)) + data


class FramedEnd:
    """One end of a pipe or socket, owning its descriptor: framed bytes or pickled objects in and out."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def fileno(self) -> int:
        if self._fd is None:
            raise OSError("this end is closed")
        return self._fd

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Whether a message (or the end of the stream) is there to read, waiting at most `timeout` seconds."""
        return bool(select.select([self.fileno()], [], [], timeout)[0])

    def send_bytes(self, data: bytes) -> None:
        view = memoryview(frame(data))
        while view:
            view = view[os.write(self.fileno(), view) :]

    def recv_bytes(self) -> bytes:
        """The next message's bytes (blocks until it is there); EOFError if the other end closed first."""
        (size,) = FRAME_HEADER.unpack(self._read(FRAME_HEADER.size))
        if size == -1:
            (size,) = _LONG_HEADER.unpack(self._read(_LONG_HEADER.size))
        return self._read(size)

    def send(self, message: Any) -> None:
        self.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def recv(self) -> Any:
        return pickle.loads(self.recv_bytes())

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _read(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = os.read(self.fileno(), size)
            if not chunk:
                raise EOFError("the other end closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

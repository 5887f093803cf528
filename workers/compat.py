"""The CPython internals the engine leans on, kept in this one module.

Each is a private detail of `multiprocessing` that a future Python may change; tests/workers/test_compat.py
checks every one of them, so such a change fails loudly there instead of quietly slowing or breaking a run.

- `ForkPopen`: `multiprocessing.popen_fork.Popen`, whose `_launch(process_obj)` `workers.process` overrides
  to fork a buyer that skips multiprocessing's bookkeeping.
- `forget_child`: `multiprocessing.process._children`, the set of live children that every `Process.start()`
  polls (N * N / 2 waitpid calls for N buyers alive at once); the launcher joins its buyers itself.
- `frame`: the framing of `multiprocessing.connection.Connection` (a 4-byte big-endian length, then the
  bytes), which the result channel writes with one os.write so that `recv_bytes` reads it.
"""

from __future__ import annotations

import struct
from multiprocessing import popen_fork
from multiprocessing import process as _process
from multiprocessing.process import BaseProcess

ForkPopen = popen_fork.Popen
FRAME_HEADER = struct.Struct("!i")


def forget_child(process: BaseProcess) -> None:
    """Take `process` off multiprocessing's list of live children (if that list is still there)."""
    children = getattr(_process, "_children", None)
    if isinstance(children, set):
        children.discard(process)


def frame(data: bytes) -> bytes:
    """`data` as one message that Connection.recv_bytes reads."""
    return FRAME_HEADER.pack(len(data)) + data

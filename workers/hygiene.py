"""Process hygiene: a child never outlives the process that started it.

`daemon=True` only helps when the parent exits normally; a parent killed with SIGKILL runs no clean-up.
On Linux the kernel can send the child a signal when its parent dies (PR_SET_PDEATHSIG), so no orphan is
left behind even then.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
# looked up once, at import: a buyer process then makes one call, instead of loading ctypes' view of libc
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int | None) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies; exit now if it already has."""
    if _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def name_process(name: str) -> None:
    """Name this process as ps, top and /proc/<pid>/comm show it (at most 15 bytes are kept)."""
    if _prctl is not None:
        _prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)

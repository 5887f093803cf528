"""Shared memory: the count is a `multiprocessing.Value` that every buyer process maps (the lesson's "several
processes share one block of memory"). Reads and writes are plain loads and stores with no lock of their own
(`lock=False`), so read, hold, write back races exactly as the file does; a lock or a seller is the cure.

The block is made by the launcher, before it forks the buyers, which inherit it; the launcher reads the final
count from it. Nothing is written to disk.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import TYPE_CHECKING

from workers.stores.base import TicketStore

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


class MemoryStore(TicketStore):
    kind = "memory"
    label = "shared memory"

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.tickets = 0
        self._value: ctypes.c_longlong | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"run_dir": self.run_dir, "tickets": self.tickets, "_value": None}

    def create(self, tickets: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)  # for a file lock beside it
        self.tickets = tickets

    def scratch(self) -> MemoryStore:
        return MemoryStore(self.run_dir)

    def share(self, context: BaseContext) -> None:
        self._value = context.Value(ctypes.c_longlong, self.tickets, lock=False)  # type: ignore[assignment]

    def _shared(self) -> ctypes.c_longlong:
        if self._value is None:
            raise RuntimeError("the shared memory is made by share(), in the launcher, before the buyers fork")
        return self._value

    def read(self) -> int:
        return int(self._shared().value)

    def write(self, count: int) -> None:
        self._shared().value = count

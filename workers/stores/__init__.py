"""Where the tickets live: one module per store, all behind the small interface of `workers.stores.base`.

The registry names each store's module, imported only when a run uses it, so a buyer process loads the store
it races on and nothing else.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Literal

from workers.stores.base import TicketStore

StoreKind = Literal["file", "memory"]

_HOMES: dict[str, tuple[str, str]] = {
    "file": ("workers.stores.file", "FileStore"),
    "memory": ("workers.stores.memory", "MemoryStore"),
}


def make_store(kind: StoreKind, run_dir: Path) -> TicketStore:
    """The store of `kind` for the run kept in `run_dir`."""
    module, name = _HOMES[kind]
    store: TicketStore = getattr(import_module(module), name)(run_dir)
    return store

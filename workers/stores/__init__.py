"""Where the tickets live: one module per store, all behind the small interface of `workers.stores.base`.

    file       the lesson's db.json in the run's folder
    memory     a multiprocessing.Value in shared memory
    sqlite     an SQLite database file in the run's folder (no server)
    postgres   a table of its own on a PostgreSQL server
    redis      keys of its own on a Redis server

The registry names each store's module, imported only when a run uses it, so a buyer process loads the store
it races on and nothing else (a database client only when the store needs it). A store on a server takes the
server's URL from the caller (`store_urls`, by store kind); the engine reads no settings of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import Literal

from workers.errors import StoreRefused
from workers.stores.base import TicketStore

StoreKind = Literal["file", "memory", "sqlite", "postgres", "redis"]

_HOMES: dict[str, tuple[str, str]] = {
    "file": ("workers.stores.file", "FileStore"),
    "memory": ("workers.stores.memory", "MemoryStore"),
    "sqlite": ("workers.stores.sqlite", "SqliteStore"),
    "postgres": ("workers.stores.postgres", "PostgresStore"),
    "redis": ("workers.stores.redis", "RedisStore"),
}
SERVER_STORES = ("postgres", "redis")  # the stores that need a server's URL


def make_store(kind: StoreKind, run_dir: Path, store_urls: Mapping[str, str] | None = None) -> TicketStore:
    """The store of `kind` for the run kept in `run_dir`; a store on a server needs its URL in `store_urls`."""
    module, name = _HOMES[kind]
    cls = getattr(import_module(module), name)
    if kind not in SERVER_STORES:
        store: TicketStore = cls(run_dir)
        return store
    url = (store_urls or {}).get(kind)
    if not url:
        raise StoreRefused(f"store '{kind}' needs the URL of its server, and none was given")
    store = cls(run_dir, url)
    return store

"""The store interface: what every strategy is written against.

A store object is made by the coordinator, travels to the launcher by pickling, and reaches the buyer
processes by fork. Each side calls its own part:

    coordinator   create(tickets)   the tickets exist before any buyer starts; a failure fails the run early
                  remove_leftovers() what killed writers left behind (also for a run killed with its server)
    launcher      share(context)    make what the buyers share through fork (shared memory); before forking
                  final_count()     the tickets left, once every buyer has finished
    each process  open() ... close()  its own handle (a file descriptor, later a connection), never inherited
                  read(), write(n)                       the lesson's way: read the count, write one back
                  read_versioned(), compare_and_set(v, n) optimistic concurrency, where the store can
                  before_sale(), after_sale()            work a store can do outside the critical section

A method a store cannot do raises NotImplementedError; `workers.support` keeps strategies off such stores.
"""

from __future__ import annotations

from multiprocessing.context import BaseContext
from pathlib import Path
from typing import ClassVar


class TicketStore:
    kind: ClassVar[str]
    label: ClassVar[str]  # what the explanation calls it
    site_packages: ClassVar[bool] = False  # its buyers import installed packages (a database client)

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @property
    def lock_path(self) -> Path:
        """Where a file lock guarding this store lives: a file of its own, never the store itself."""
        return self.run_dir / "tickets.lock"

    def create(self, tickets: int) -> None:
        raise NotImplementedError

    def remove_leftovers(self) -> int:
        return 0

    def scratch(self) -> TicketStore | None:
        """A store of the same kind beside this one, for a rehearsal; None: this store cannot have one."""
        return None

    def share(self, context: BaseContext) -> None:
        """Nothing to share by default: each process opens the store itself."""

    def final_count(self) -> int:
        return self.read()

    def open(self) -> None:
        """Nothing to open by default."""

    def close(self) -> None:
        """Nothing to close by default."""

    def read(self) -> int:
        raise NotImplementedError

    def write(self, count: int) -> None:
        raise NotImplementedError

    def read_versioned(self) -> tuple[int, int]:
        raise NotImplementedError

    def compare_and_set(self, version: int, count: int) -> bool:
        raise NotImplementedError

    def before_sale(self) -> None:
        """Called by a buyer that expects to sell, before it enters the critical section."""

    def after_sale(self) -> None:
        """Called by a buyer once it has left the critical section."""

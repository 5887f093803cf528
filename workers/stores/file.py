"""The lesson's store: the JSON file `db.json` in the run's folder (see `workers.db` for how it is written)."""

from __future__ import annotations

from pathlib import Path

from workers.db import TicketDb
from workers.stores.base import TicketStore

DB_NAME = "db.json"


class FileStore(TicketStore):
    kind = "file"
    label = "the JSON file"

    def __init__(self, run_dir: Path, name: str = DB_NAME) -> None:
        super().__init__(run_dir)
        self.name = name
        self.db = TicketDb(run_dir / name)

    def __getstate__(self) -> dict[str, object]:
        return {"run_dir": self.run_dir, "name": self.name}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["run_dir"], state["name"])  # type: ignore[misc]

    @property
    def lock_path(self) -> Path:
        return self.run_dir / f"{DB_NAME}.lock"

    def scratch(self) -> FileStore:
        """A db named like a writer's temporary file, so this db's `remove_leftovers` deletes it."""
        return FileStore(self.run_dir, f"{DB_NAME}.rehearsal.tmp")

    def create(self, tickets: int) -> None:
        self.db.create(tickets)

    def remove_leftovers(self) -> int:
        return self.db.remove_leftovers()

    def final_count(self) -> int:
        return self.db.read_versioned()[0]

    def close(self) -> None:
        self.db.close()

    def read(self) -> int:
        return self.db.read()

    def write(self, count: int) -> None:
        self.db.write(count)

    def read_versioned(self) -> tuple[int, int]:
        return self.db.read_versioned()

    def compare_and_set(self, version: int, count: int) -> bool:
        return self.db.compare_and_set(version, count)

    def before_sale(self) -> None:
        self.db.stage()  # the file a sale will fill, made before the critical section rather than inside it

    def after_sale(self) -> None:
        self.db.drop_replaced()  # the replaced db file is deleted after the critical section

"""The ticket database: a JSON file {"count": n}, read whole and replaced whole.

A write goes to a temporary file in the same folder, then os.replace puts it over the db in one step, so a
reader sees the old count or the new one, never an empty or half-written file, even when the writer is
killed in the middle.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from workers.errors import DbError


class TicketDb:
    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, count: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.write(count)

    def read(self) -> int:
        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read())
        except FileNotFoundError as e:
            raise DbError(f"ticket db {self.path} does not exist") from e
        except (OSError, ValueError) as e:
            raise DbError(f"ticket db {self.path} is unreadable: {e}") from e
        count = data.get("count") if isinstance(data, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise DbError(f'ticket db {self.path} is not of the form {{"count": n}}')
        return count

    def write(self, count: int) -> None:
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, json.dumps({"count": count}).encode())
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError as e:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise DbError(f"could not write ticket db {self.path}: {e.strerror or e}") from e

    def remove_leftovers(self) -> int:
        """Delete temporary files left by writers that died before replacing the db; return how many."""
        leftovers = list(self.path.parent.glob(f"{self.path.name}.*.tmp"))
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        return len(leftovers)

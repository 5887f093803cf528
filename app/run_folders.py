"""One folder per run under the data directory, named by the simulation's id: data_dir/runs/<id>/.

It holds what the engine keeps for the run (the ticket db, its lock file) and the run's buyer records
(app.buyer_files). An id that is not one of ours never names a folder, so a request cannot reach outside.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from app.store_errors import SimulationNotFound, StoreError
from workers import remove_leftovers

ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def new_id() -> str:
    return uuid.uuid4().hex


def is_valid_id(text: str) -> bool:
    return ID_PATTERN.fullmatch(text) is not None


class RunFolders:
    def __init__(self, runs_dir: Path) -> None:
        self.root = runs_dir

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sim_id: str) -> Path:
        """The run's folder (which may not exist yet); SimulationNotFound for what is not an id."""
        if not is_valid_id(sim_id):
            raise SimulationNotFound(sim_id)
        return self.root / sim_id

    def clear_leftovers(self, sim_id: str) -> None:
        """Delete what the engine left half-made in the folder of a run killed with the server."""
        remove_leftovers(self.path(sim_id))

    def remove(self, sim_id: str) -> None:
        """Delete the run's folder and everything in it; nothing to do when there is none."""
        try:
            shutil.rmtree(self.path(sim_id))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f"{sim_id} was deleted, but not its run folder: {e}") from e

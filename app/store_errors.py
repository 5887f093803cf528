"""What the data directory's stores raise."""

from __future__ import annotations


class StoreError(Exception):
    """The SQLite store could not be read or written."""


class SimulationNotFound(LookupError):
    """No simulation has this id."""


class SimulationBusy(Exception):
    """The simulation is queued or running, so it cannot be deleted."""

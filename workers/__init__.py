"""ticketrush's engine: N buyer processes race for T tickets in a store (a JSON db file by default), buying by
one strategy or another (the lesson's read-write, with or without a lock, by default).

from workers import SimulationConfig, run_simulation
report = run_simulation(SimulationConfig(buyers=10, tickets=1, lock="none"), Path("runs/demo"))
print(report.result.oversold, report.result.explanation)

The names below are imported when first used, so that a process which needs only the buyer's side of the
engine (the launcher, see workers.launcher) does not load the coordinator's (pydantic among it).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the same names, for type checkers (`X as X`: re-exported)
    from workers.analysis import Conflict as Conflict
    from workers.analysis import Result as Result
    from workers.config import SimulationConfig as SimulationConfig
    from workers.coordinator import RunReport as RunReport
    from workers.coordinator import check_store as check_store
    from workers.coordinator import drop_store as drop_store
    from workers.coordinator import remove_leftovers as remove_leftovers
    from workers.coordinator import run_simulation as run_simulation
    from workers.errors import DbError as DbError
    from workers.errors import LockTimeout as LockTimeout
    from workers.errors import RunCancelled as RunCancelled
    from workers.errors import RunFailed as RunFailed
    from workers.errors import RunTimedOut as RunTimedOut
    from workers.errors import StoreFailed as StoreFailed
    from workers.errors import StoreLost as StoreLost
    from workers.errors import StoreRefused as StoreRefused
    from workers.errors import TicketrushError as TicketrushError
    from workers.executors.dask_executor import check_cluster as check_cluster
    from workers.launch import ReadyLauncher as ReadyLauncher
    from workers.messages import BuyerRecord as BuyerRecord

_HOMES = {
    "BuyerRecord": "workers.messages",
    "Conflict": "workers.analysis",
    "DbError": "workers.errors",
    "LockTimeout": "workers.errors",
    "ReadyLauncher": "workers.launch",
    "Result": "workers.analysis",
    "RunCancelled": "workers.errors",
    "RunFailed": "workers.errors",
    "RunReport": "workers.coordinator",
    "RunTimedOut": "workers.errors",
    "SimulationConfig": "workers.config",
    "StoreFailed": "workers.errors",
    "StoreLost": "workers.errors",
    "StoreRefused": "workers.errors",
    "TicketrushError": "workers.errors",
    "check_cluster": "workers.executors.dask_executor",
    "check_store": "workers.coordinator",
    "drop_store": "workers.coordinator",
    "remove_leftovers": "workers.coordinator",
    "run_simulation": "workers.coordinator",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'workers' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)

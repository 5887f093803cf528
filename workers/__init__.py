"""ticketrush's engine: N buyer processes race for T tickets in a JSON db file, with or without a lock.

from workers import SimulationConfig, run_simulation
report = run_simulation(SimulationConfig(buyers=10, tickets=1, lock="none"), Path("runs/demo"))
print(report.result.oversold, report.result.explanation)
"""

from workers.analysis import Conflict, Result
from workers.config import SimulationConfig
from workers.coordinator import RunReport, run_simulation
from workers.errors import DbError, LockTimeout, RunCancelled, RunFailed, RunTimedOut, TicketrushError
from workers.messages import BuyerRecord

__all__ = [
    "BuyerRecord",
    "Conflict",
    "DbError",
    "LockTimeout",
    "Result",
    "RunCancelled",
    "RunFailed",
    "RunReport",
    "RunTimedOut",
    "SimulationConfig",
    "TicketrushError",
    "run_simulation",
]

"""What one ticket rush is asked to do: the validated, strictly typed configuration of a simulation."""

from __future__ import annotations

import os
import secrets
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workers.locks import LockKind

ExecutorKind = Literal["process", "pool"]

MAX_BUYERS = 10_000_000
MAX_TICKETS = 1_000_000_000
MAX_DELAY_MS = 60_000.0

Millis = Annotated[float, Field(ge=0, le=MAX_DELAY_MS, allow_inf_nan=False)]
MillisRange = Annotated[list[Millis], Field(min_length=2, max_length=2)]
Delay = Millis | MillisRange


def delay_bounds(delay: Delay) -> tuple[float, float]:
    """The (min, max) milliseconds of a delay given as one number or a [min, max] range."""
    if isinstance(delay, list):
        return delay[0], delay[1]
    return delay, delay


class SimulationConfig(BaseModel):
    """A ticket rush: `buyers` processes race for `tickets` seats held in a JSON db file."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    buyers: int = Field(10, ge=1, le=MAX_BUYERS, description="Number of buyers racing for the tickets.")
    tickets: int = Field(1, ge=0, le=MAX_TICKETS, description="Tickets in the db when the rush starts.")
    lock: LockKind = Field("none", description="What guards the purchase: nothing, a process lock, a file lock.")
    executor: ExecutorKind = Field(
        "process",
        description="'process': one process per buyer; 'pool': `workers` processes share the buyers.",
    )
    workers: int | None = Field(
        None, ge=1, le=256, description="Pool size for the pool executor (default: the number of CPUs)."
    )
    think_ms: Delay = Field(100.0, description="Time a buyer spends looking at the count before buying.")
    hold_ms: Delay = Field(
        [100.0, 300.0],
        description="Time between reading the count and writing it back (the critical window).",
    )
    seed: int | None = Field(  # lt, not le: a JSON schema shows 2**63 exactly but 2**63 - 1 rounded up to 2**63
        None, ge=0, lt=2**63, description="Seed for the delays; a random one is chosen when absent."
    )
    together: bool = Field(True, description="Hold every buyer at the start line and release them at once.")
    lock_timeout_s: float = Field(
        30.0, gt=0, le=3600, allow_inf_nan=False, description="How long a buyer waits for the lock."
    )

    @field_validator("think_ms", "hold_ms")
    @classmethod
    def _range_is_ordered(cls, value: Delay) -> Delay:
        low, high = delay_bounds(value)
        if low > high:
            raise ValueError(f"range minimum {low:g} is greater than its maximum {high:g}")
        return value

    def resolved(self) -> SimulationConfig:
        """The same config with every choice made: the seed and, for a pool, its size."""
        # a chosen seed stays below 2**53 so that JavaScript (the dashboard) reads it exactly
        seed = self.seed if self.seed is not None else secrets.randbelow(2**53)
        workers = None
        if self.executor == "pool":
            workers = min(self.workers or os.cpu_count() or 1, self.buyers)
        return self.model_copy(update={"seed": seed, "workers": workers})

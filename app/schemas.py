"""What the API takes and gives, separate from how the store keeps it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.lifecycle import Status
from app.store import SimulationRow
from workers import BuyerRecord, Result, SimulationConfig
from workers.messages import Outcome
from workers.speech import DEFAULT


class SimulationCreate(SimulationConfig):
    """The engine's configuration; every field is optional, unknown fields are refused, types are strict."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"buyers": 10, "tickets": 1, "lock": "none", "think_ms": 0, "hold_ms": 50}]}
    )


class Progress(BaseModel):
    finished: int = Field(description="Buyers who have finished (bought, found it sold out, or failed).")
    buyers: int = Field(description="Buyers in the simulation.")


class SimulationPublic(BaseModel):
    id: str
    status: Status
    config: SimulationConfig = Field(description="The configuration as run, with the seed actually used.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    result: Result | None = Field(description="What the run showed; null until it has completed.")
    error: str | None = Field(description="Why the run failed or stopped, when it did, in the language asked for.")

    @classmethod
    def from_row(cls, row: SimulationRow, lang: str = DEFAULT) -> SimulationPublic:
        """The simulation as the API shows it, its verdict and explanation in `lang`."""
        return cls(
            id=row.id,
            status=row.status,
            config=row.config,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            progress=Progress(finished=row.finished, buyers=row.buyers),
            result=row.result.spoken(lang) if row.result is not None else None,
            error=row.error_in(lang),
        )


class SimulationsPublic(BaseModel):
    data: list[SimulationPublic]
    count: int = Field(description="How many simulations there are in all, not only on this page.")


class BuyerPublic(BaseModel):
    """What one buyer did and when; times are time.monotonic_ns() readings, comparable within a run."""

    buyer: int
    pid: int
    outcome: Outcome
    seen: int | None = Field(description="The count the buyer saw when searching.")
    read: int | None = Field(description="The count the buyer read before buying.")
    wrote: int | None = Field(description="The count the buyer wrote back.")
    error: str | None = Field(description="Why the buyer gave up or failed, in the language asked for.")
    t_start: int | None
    t_searched: int | None
    t_lock_requested: int | None
    t_lock_acquired: int | None
    t_read: int | None
    t_write: int | None
    t_end: int | None
    retries: int | None = Field(description="How many times an optimistic buyer's write was refused.")
    host: str | None = Field(
        None, description="Executor 'dask': the host the buyer ran on (its Dask worker's); null: the service's host."
    )

    @classmethod
    def from_record(cls, record: BuyerRecord, lang: str = DEFAULT) -> BuyerPublic:
        """The record, its error said in `lang`."""
        return cls(**{**record._asdict(), "error": record.error_in(lang)})


class BuyersPublic(BaseModel):
    data: list[BuyerPublic]
    count: int = Field(description="How many buyer records the simulation has in all.")

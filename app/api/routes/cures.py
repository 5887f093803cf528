"""/cures: what a simulation can be asked to run, read from the engine's support table.

Per store, the strategies it takes, the locks each strategy takes, and the cures a comparison runs there, in
the order it runs them; and the config's defaults for those fields. The dashboard builds its form from this,
so a store or a strategy added to `workers.support` appears on the page with nothing else changed.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from workers import SimulationConfig
from workers.config import DEFAULT_MAX_RETRIES
from workers.locks import DEFAULT_PERMITS
from workers.support import STRATEGIES_BY_STORE, cures, locks_on

router = APIRouter(prefix="/cures", tags=["cures"])


class StrategyPublic(BaseModel):
    name: str
    locks: list[str] = Field(description="The locks this strategy takes ('none' alone: it takes no lock).")


class CurePublic(BaseModel):
    name: str = Field(description="How a comparison names it: the strategy, and for read-write its lock.")
    strategy: str
    lock: str


class StorePublic(BaseModel):
    name: str
    strategies: list[StrategyPublic]
    cures: list[CurePublic] = Field(description="What a comparison on this store runs, one after another.")


class CureDefaults(BaseModel):
    store: str
    strategy: str
    lock: str
    permits: int = Field(description="The semaphore's permits when none are given.")
    max_retries: int


class CuresPublic(BaseModel):
    stores: list[StorePublic]
    defaults: CureDefaults = Field(description="What a config that names none of these fields runs.")


@router.get("")
def list_cures() -> CuresPublic:
    """Every store, its strategies and their locks, and the cures a comparison runs on it."""
    return CuresPublic(
        stores=[
            StorePublic(
                name=store,
                strategies=[StrategyPublic(name=s, locks=list(locks_on(store, s))) for s in strategies],
                cures=[CurePublic(name=cure.name, strategy=cure.strategy, lock=cure.lock) for cure in cures(store)],
            )
            for store, strategies in STRATEGIES_BY_STORE.items()
        ],
        defaults=CureDefaults(
            **{field: SimulationConfig.model_fields[field].default for field in ("store", "strategy", "lock")},
            permits=DEFAULT_PERMITS,
            max_retries=DEFAULT_MAX_RETRIES,
        ),
    )

"""/cures: what a simulation can be asked to run, read from the engine's support table.

Per store, the strategies it takes, the locks each strategy takes, the cures a comparison runs there, in the
order it runs them, and whether this server can run it (a store on a server needs that server's URL set); and
the config's defaults for those fields. The dashboard builds its form from this,
so a store or a strategy added to `workers.support` appears on the page with nothing else changed.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import LanguageDep, SettingsDep
from app.settings import store_url_problem
from workers import SimulationConfig
from workers.config import DEFAULT_MAX_RETRIES
from workers.locks import DEFAULT_PERMITS
from workers.speech import render
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
    usable: bool = Field(description="Whether this server runs simulations on this store.")
    problem: str | None = Field(
        description="Why it does not: the message a simulation on this store is refused with (422), naming the "
        "setting that would give the store its server; null when it is usable."
    )


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
def list_cures(settings: SettingsDep, lang: LanguageDep) -> CuresPublic:
    """Every store, its strategies and their locks, the cures a comparison runs on it, and whether this server
    can run it (in the request's language, like the refusal)."""
    urls = settings.store_urls()

    def public(store: str, strategies: tuple[str, ...]) -> StorePublic:
        problem = store_url_problem(store, urls)
        return StorePublic(
            name=store,
            strategies=[StrategyPublic(name=s, locks=list(locks_on(store, s))) for s in strategies],
            cures=[CurePublic(name=cure.name, strategy=cure.strategy, lock=cure.lock) for cure in cures(store)],
            usable=problem is None,
            problem=None if problem is None else render(problem, lang),
        )

    return CuresPublic(
        stores=[public(store, strategies) for store, strategies in STRATEGIES_BY_STORE.items()],
        defaults=CureDefaults(
            **{field: SimulationConfig.model_fields[field].default for field in ("store", "strategy", "lock")},
            permits=DEFAULT_PERMITS,
            max_retries=DEFAULT_MAX_RETRIES,
        ),
    )

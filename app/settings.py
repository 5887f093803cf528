"""Service settings, read once from TICKETRUSH_* environment variables and validated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from annotated_types import Ge, Gt, Le
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.speech import Fact, all_of, fact

ENV_PREFIX = "TICKETRUSH_"
_KINDS: dict[object, str] = {int: "int", float: "float", Path: "path", str: "text"}  # serve.kind.<name>


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    data_dir: Path = Field(Path("data"), description="Where the SQLite store and the run folders live.")
    max_running: int = Field(2, ge=1, le=64, description="Simulations running at once.")
    max_queued: int = Field(100, ge=0, le=100_000, description="Simulations waiting to run; past it, 429.")
    max_process_buyers: int = Field(1_000, ge=1, description="Most buyers for the process executor.")
    max_buyers: int = Field(1_000_000, ge=1, description="Most buyers for any simulation.")
    standby: int = Field(1, ge=0, le=64, description="Run processes kept waiting for the next runs; 0: none.")
    max_trials: int = Field(20, ge=1, le=1000, description="Most trials of each value in an experiment.")
    max_points: int = Field(20, ge=1, le=1000, description="Most values an experiment varies its field over.")
    run_timeout_s: float = Field(300.0, gt=0, allow_inf_nan=False, description="Time limit of one run, in seconds.")
    api_token: str | None = Field(None, description="When set, POST and DELETE need 'Authorization: Bearer <token>'.")
    postgres_url: str | None = Field(None, description="The PostgreSQL server of store 'postgres' (postgresql://...).")
    redis_url: str | None = Field(None, description="The Redis server of store 'redis' (redis://...).")
    dask_scheduler: str | None = Field(None, description="The Dask scheduler of executor 'dask' (tcp://host:8786).")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Resolved against the folder the server starts in, once: run processes and SQLite URIs need it whole."""
        return value.resolve()

    def store_urls(self) -> dict[str, str]:
        """The servers of the stores that live on one, by store, for the engine (plain values)."""
        return {store: url for store in STORE_URL_VARIABLES if (url := getattr(self, f"{store}_url"))}


STORE_URL_VARIABLES = {"postgres": f"{ENV_PREFIX}POSTGRES_URL", "redis": f"{ENV_PREFIX}REDIS_URL"}


def store_urls_from(environ: Mapping[str, str]) -> dict[str, str]:
    """The same as Settings.store_urls, read from `environ` alone (for the command line)."""
    return {store: url for store, variable in STORE_URL_VARIABLES.items() if (url := environ.get(variable))}


def store_url_problem(store: str, store_urls: Mapping[str, str]) -> Fact | None:
    """Why `store` cannot be used here, naming the variable that would give it its server, as a fact
    (workers.speech); None when it can."""
    variable = STORE_URL_VARIABLES.get(store)
    if variable is None or store_urls.get(store):
        return None
    return fact("settings.store_url", store=store, variable=variable)


DASK_SCHEDULER_VARIABLE = f"{ENV_PREFIX}DASK_SCHEDULER"


def executor_problem(executor: str, dask_scheduler: str | None) -> Fact | None:
    """Why `executor` cannot be used here, naming the variable that would give it its cluster, as a fact; None
    when it can."""
    if executor != "dask" or dask_scheduler:
        return None
    return fact("settings.dask_scheduler", variable=DASK_SCHEDULER_VARIABLE)


def settings_problems(error: ValidationError) -> list[Fact]:
    """One fact per refused setting (workers.speech), naming its variable and what it takes."""
    problems = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        field = Settings.model_fields.get(name)
        if field is None:
            problems.append(fact("serve.invalid", words=problem["msg"]))
            continue
        kind = fact(f"serve.kind.{next((k for t, k in _KINDS.items() if field.annotation is t), 'value')}")
        bounds = [
            fact("serve.above", n=m.gt)
            if isinstance(m, Gt)
            else fact("serve.at_least", n=m.ge)
            if isinstance(m, Ge)
            else fact("serve.at_most", n=m.le)
            for m in field.metadata
            if isinstance(m, Ge | Gt | Le)
        ]
        allowed = fact("serve.bounded", kind=kind, bounds=all_of(bounds)) if bounds else kind
        variable = f"{ENV_PREFIX}{name.upper()}"
        problems.append(fact("serve.must_be", variable=variable, allowed=allowed, got=repr(problem.get("input"))))
    return problems


@lru_cache
def settings_from_environment() -> Settings:
    return Settings()

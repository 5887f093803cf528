"""Service settings, read once from TICKETRUSH_* environment variables and validated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETRUSH_", frozen=True)

    data_dir: Path = Field(Path("data"), description="Where the SQLite store and the run folders live.")
    max_running: int = Field(2, ge=1, le=64, description="Simulations running at once.")
    max_queued: int = Field(100, ge=0, le=100_000, description="Simulations waiting to run; past it, 429.")
    max_process_buyers: int = Field(1_000, ge=1, description="Most buyers for the process executor.")
    max_buyers: int = Field(1_000_000, ge=1, description="Most buyers for any simulation.")
    run_timeout_s: float = Field(300.0, gt=0, description="Time limit of one run, in seconds.")
    api_token: str | None = Field(None, description="When set, POST and DELETE need 'Authorization: Bearer <token>'.")
    postgres_url: str | None = Field(None, description="The PostgreSQL server of store 'postgres' (postgresql://...).")
    redis_url: str | None = Field(None, description="The Redis server of store 'redis' (redis://...).")

    def store_urls(self) -> dict[str, str]:
        """The servers of the stores that live on one, by store, for the engine (plain values)."""
        return {store: url for store in STORE_URL_VARIABLES if (url := getattr(self, f"{store}_url"))}


STORE_URL_VARIABLES = {"postgres": "TICKETRUSH_POSTGRES_URL", "redis": "TICKETRUSH_REDIS_URL"}


def store_urls_from(environ: Mapping[str, str]) -> dict[str, str]:
    """The same as Settings.store_urls, read from `environ` alone (for the command line)."""
    return {store: url for store, variable in STORE_URL_VARIABLES.items() if (url := environ.get(variable))}


def store_url_problem(store: str, store_urls: Mapping[str, str]) -> str | None:
    """Why `store` cannot be used here, naming the variable that would give it its server; None when it can."""
    variable = STORE_URL_VARIABLES.get(store)
    if variable is None or store_urls.get(store):
        return None
    return f"store {store} needs {variable}, the URL of its server; it is not set"


@lru_cache
def get_settings() -> Settings:
    return Settings()

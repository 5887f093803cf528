"""Service settings, read once from TICKETRUSH_* environment variables and validated at start-up."""

from __future__ import annotations

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


@lru_cache
def get_settings() -> Settings:
    return Settings()

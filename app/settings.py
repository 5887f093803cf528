"""Service settings, read once from TICKETRUSH_* environment variables and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from annotated_types import Ge, Gt, Le
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "TICKETRUSH_"
_KINDS: dict[object, str] = {int: "a whole number", float: "a number", Path: "a folder path", str: "text"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    data_dir: Path = Field(Path("data"), description="Where the SQLite store and the run folders live.")
    max_running: int = Field(2, ge=1, le=64, description="Simulations running at once.")
    max_queued: int = Field(100, ge=0, le=100_000, description="Simulations waiting to run; past it, 429.")
    max_process_buyers: int = Field(1_000, ge=1, description="Most buyers for the process executor.")
    max_buyers: int = Field(1_000_000, ge=1, description="Most buyers for any simulation.")
    max_trials: int = Field(20, ge=1, le=1000, description="Most trials of each value in an experiment.")
    max_points: int = Field(20, ge=1, le=1000, description="Most values an experiment varies its field over.")
    run_timeout_s: float = Field(300.0, gt=0, allow_inf_nan=False, description="Time limit of one run, in seconds.")
    api_token: str | None = Field(None, description="When set, POST and DELETE need 'Authorization: Bearer <token>'.")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Resolved against the folder the server starts in, once: run processes and SQLite URIs need it whole."""
        return value.resolve()


def settings_problems(error: ValidationError) -> list[str]:
    """One line per refused setting, naming its variable and what it takes."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        field = Settings.model_fields.get(name)
        if field is None:
            lines.append(f"invalid settings: {problem['msg']}")
            continue
        kind = next((words for t, words in _KINDS.items() if field.annotation is t), "a value")
        bounds = [
            f"above {m.gt}" if isinstance(m, Gt) else f"at least {m.ge}" if isinstance(m, Ge) else f"at most {m.le}"
            for m in field.metadata
            if isinstance(m, Ge | Gt | Le)
        ]
        allowed = kind + (f", {' and '.join(bounds)}" if bounds else "")
        lines.append(f"{ENV_PREFIX}{name.upper()} must be {allowed} (got {problem.get('input')!r})")
    return lines


@lru_cache
def get_settings() -> Settings:
    return Settings()

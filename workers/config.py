"""What one ticket rush is asked to do: the validated, strictly typed configuration of a simulation."""

from __future__ import annotations

import os
import secrets
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from workers.errors import Refusal
from workers.locks import DEFAULT_LOCK_TTL_MS, DEFAULT_PERMITS, LockKind, admits, lock_fact
from workers.schedules import MAX_SCHEDULE, MAX_SCHEDULED_BUYERS, SCHEDULED_STRATEGIES, Race, ScheduleError, follow
from workers.speech import fact, one_of
from workers.stores import StoreKind
from workers.strategies import StrategyKind
from workers.support import RETRYING, executor_problem, lock_problem, strategy_problem

ExecutorKind = Literal["process", "pool", "dask"]

MAX_BUYERS = 10_000_000
MAX_TICKETS = 1_000_000_000
MAX_DELAY_MS = 60_000.0
MAX_PERMITS = 1000
MAX_LOCK_TTL_MS = 3_600_000
DEFAULT_MAX_RETRIES = 100

Millis = Annotated[float, Field(ge=0, le=MAX_DELAY_MS, allow_inf_nan=False)]
MillisRange = Annotated[list[Millis], Field(min_length=2, max_length=2)]
Delay = Millis | MillisRange


def race_of(buyers: int, tickets: int, strategy: str, lock: str, permits: int | None, max_retries: int) -> Race:
    return Race(
        buyers,
        tickets,
        strategy,
        lock_fact(lock, permits) if lock != "none" else "none",
        admits(lock, permits),
        max_retries,
    )


def _steppable(what: str, fields: dict[str, object]) -> None:
    """Refuse a schedule or step mode (`what`: "schedule" or "step_mode") for a run whose buyers cannot be
    stepped."""
    said = fact(f"config.{what}")
    if fields.get("executor") != "process":
        raise Refusal(fact("config.steps_need_process", what=said))
    if fields.get("strategy") not in SCHEDULED_STRATEGIES:
        strategies = one_of(SCHEDULED_STRATEGIES, quoted=True)
        raise Refusal(fact("config.steps_strategy", what=said, strategies=strategies, strategy=fields.get("strategy")))
    if int(fields.get("buyers", 0)) > MAX_SCHEDULED_BUYERS:  # type: ignore[call-overload]
        raise Refusal(fact("config.steps_buyers", what=said, n=MAX_SCHEDULED_BUYERS))


def delay_bounds(delay: Delay) -> tuple[float, float]:
    """The (min, max) milliseconds of a delay given as one number or a [min, max] range."""
    if isinstance(delay, list):
        return delay[0], delay[1]
    return delay, delay


class SimulationConfig(BaseModel):
    """A ticket rush: `buyers` processes race for `tickets` seats kept in `store`, buying by `strategy`."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    buyers: int = Field(10, ge=1, le=MAX_BUYERS, description="Number of buyers racing for the tickets.")
    tickets: int = Field(1, ge=0, le=MAX_TICKETS, description="Tickets in the db when the rush starts.")
    store: StoreKind = Field(
        "file",
        description="Where the tickets live: 'file' (the lesson's db.json), 'memory' (shared memory), 'sqlite' "
        "(a database file in the run's folder), 'postgres' or 'redis' (the server the service is given).",
    )
    strategy: StrategyKind = Field(
        "read-write",
        description="How a buyer buys: 'read-write' (the lesson: read, hold, write back, under `lock`), "
        "'optimistic' (write back only if the version read is unchanged, else retry), 'seller' (requests to "
        "one seller process, which alone touches the store), 'atomic' (the store checks and decrements in one "
        "step), 'for-update' (read, hold, write holding the store's write lock) or 'serializable' (read, hold, "
        "write in a SERIALIZABLE transaction, rerun when the store refuses it).",
    )
    lock: LockKind = Field(
        "none",
        description="What guards a read-write purchase: nothing, a process lock, a file lock, a semaphore, "
        "PostgreSQL's advisory lock (store 'postgres') or a Redis lock (store 'redis').",
    )
    permits: int | None = Field(
        None,
        ge=1,
        le=MAX_PERMITS,
        description=f"Buyers the semaphore lets in at once (lock 'semaphore' only; default {DEFAULT_PERMITS}).",
    )
    lock_ttl_ms: int | None = Field(
        None,
        ge=1,
        le=MAX_LOCK_TTL_MS,
        description="How long the Redis lock lives before it expires by itself, in ms (lock 'redis' only; default "
        f"{DEFAULT_LOCK_TTL_MS:,}). A hold longer than this lets a second buyer in.",
    )
    max_retries: int = Field(
        DEFAULT_MAX_RETRIES,
        ge=0,
        le=1_000_000,
        description="How many refused writes a buyer retries before it gives up (optimistic and serializable only).",
    )
    executor: ExecutorKind = Field(
        "process",
        description="'process': one process per buyer; 'pool': `workers` processes share the buyers; 'dask': "
        "`workers` tasks share the buyers over the Dask cluster the service is given (stores 'postgres' and "
        "'redis').",
    )
    workers: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Pool size for the pool executor (default: the number of CPUs); tasks for the dask executor "
        "(default: one per worker thread of the cluster).",
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

    schedule: list[Annotated[int, Field(ge=1)]] | None = Field(
        None,
        description="Buyer numbers: each entry lets that buyer take its next step (search, read, write), so the "
        "race happens the same way every time; buyers left unfinished then run to their end in number order. "
        "Delays take no time under a schedule. Process executor, strategy read-write or optimistic, at most "
        f"{MAX_SCHEDULED_BUYERS} buyers and {MAX_SCHEDULE} steps.",
    )

    mode: Literal["run", "step"] = Field(
        "run",
        description="'step': the buyers start and take no step until told (POST /simulations/{id}/step), after "
        "the `schedule`'s steps if one is given; same limits as a schedule.",
    )

    @field_validator("strategy")
    @classmethod
    def _strategy_runs_on_store(cls, value: str, info: ValidationInfo) -> str:
        store = info.data.get("store")
        problem = strategy_problem(store, value) if store is not None else None
        if problem is not None:
            raise Refusal(problem)
        return value

    @field_validator("lock")
    @classmethod
    def _lock_guards_strategy(cls, value: str, info: ValidationInfo) -> str:
        strategy, store = info.data.get("strategy"), info.data.get("store")
        problem = lock_problem(strategy, value, store) if strategy is not None and store is not None else None
        if problem is not None:
            raise Refusal(problem)
        return value

    @field_validator("permits")
    @classmethod
    def _permits_are_the_semaphores(cls, value: int | None, info: ValidationInfo) -> int | None:
        lock = info.data.get("lock")
        if value is not None and lock not in (None, "semaphore"):
            raise Refusal(fact("config.permits_of_semaphore", lock=lock))
        return value

    @field_validator("lock_ttl_ms")
    @classmethod
    def _ttl_is_the_redis_locks(cls, value: int | None, info: ValidationInfo) -> int | None:
        lock = info.data.get("lock")
        if value is not None and lock not in (None, "redis"):
            raise Refusal(fact("config.ttl_of_redis_lock", lock=lock))
        return value

    @field_validator("max_retries")
    @classmethod
    def _retries_are_the_retrying_strategies(cls, value: int, info: ValidationInfo) -> int:
        strategy = info.data.get("strategy")
        if value != DEFAULT_MAX_RETRIES and strategy is not None and strategy not in RETRYING:
            raise Refusal(fact("config.retries_of_retrying", retrying=one_of(RETRYING, quoted=True), strategy=strategy))
        return value

    @field_validator("executor")
    @classmethod
    def _executor_reaches_store(cls, value: str, info: ValidationInfo) -> str:
        store = info.data.get("store")
        problem = (
            executor_problem(value, store, info.data.get("strategy"), info.data.get("lock"))
            if store is not None
            else None
        )
        if problem is not None:
            raise Refusal(problem)
        return value

    @field_validator("workers")
    @classmethod
    def _workers_are_the_pools(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("executor") == "process":
            raise Refusal(fact("config.workers_of_pool"))
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule_can_be_followed(cls, value: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if value is None:
            return value
        fields = info.data
        _steppable("schedule", fields)
        if len(value) > MAX_SCHEDULE:
            raise Refusal(fact("config.schedule_length", n=MAX_SCHEDULE))
        if not {"buyers", "tickets", "lock", "permits", "max_retries"} <= fields.keys():
            return value  # another field is wrong; that is the message
        race = race_of(
            fields["buyers"], fields["tickets"], fields["strategy"], fields["lock"], fields["permits"],
            fields["max_retries"],
        )  # fmt: skip
        try:
            follow(race, value)
        except ScheduleError as e:
            raise Refusal(e.fact) from None
        return value

    @field_validator("mode")
    @classmethod
    def _step_mode_can_step(cls, value: str, info: ValidationInfo) -> str:
        if value == "step":
            _steppable("step_mode", info.data)
        return value

    def race(self) -> Race:
        """What the schedule model needs of this config."""
        return race_of(self.buyers, self.tickets, self.strategy, self.lock, self.permits, self.max_retries)

    @field_validator("think_ms", "hold_ms")
    @classmethod
    def _range_is_ordered(cls, value: Delay) -> Delay:
        low, high = delay_bounds(value)
        if low > high:
            raise Refusal(fact("config.range_order", low=low, high=high))
        return value

    def resolved(self) -> SimulationConfig:
        """The same config with every choice made: the seed and, for a pool, its size (a dask run's tasks are
        counted once the cluster is asked, unless `workers` says)."""
        # a chosen seed stays below 2**53 so that JavaScript (the dashboard) reads it exactly
        seed = self.seed if self.seed is not None else secrets.randbelow(2**53)
        workers = None
        if self.executor == "pool":
            workers = min(self.workers or os.cpu_count() or 1, self.buyers)
        elif self.executor == "dask" and self.workers is not None:  # else the cluster's worker threads decide
            workers = min(self.workers, self.buyers)
        permits = self.permits if self.lock != "semaphore" else self.permits or DEFAULT_PERMITS
        ttl = self.lock_ttl_ms if self.lock != "redis" else self.lock_ttl_ms or DEFAULT_LOCK_TTL_MS
        return self.model_copy(update={"seed": seed, "workers": workers, "permits": permits, "lock_ttl_ms": ttl})

"""/simulations/{id}/step: a step-mode simulation taken one step at a time; /simulations/{id}/replay: the state
after the first k steps of a run's schedule.

The engine's model of the steps (workers.schedules) checks each step before it is stored and tells the state it
leads to; the run process hands stored steps to the buyer processes, which take them for real in that order. The
same model, played over the schedule a finished run followed, tells where the race stood after any of its steps.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, model_validator

from app.api.deps import LanguageDep, SimulationDep, StoreDep, TokenDep
from app.lifecycle import ACTIVE, Status
from app.store import SimulationRow, Store
from workers.errors import Refusal
from workers.schedules import (
    MAX_SCHEDULE,
    MAX_SCHEDULED_BUYERS,
    SCHEDULED_STRATEGIES,
    Model,
    ScheduleError,
    complete,
    play,
)
from workers.speech import fact, render

router = APIRouter(prefix="/simulations", tags=["simulations"])


class StepRequest(BaseModel):
    buyer: int | None = Field(None, description="The buyer who takes its next step.")
    to_end: bool = Field(False, description="Run every unfinished buyer to its end, in number order.")

    @model_validator(mode="after")
    def _one_of_them(self) -> StepRequest:
        if (self.buyer is None) == (not self.to_end):
            raise Refusal(fact("steps.one_of_them"))
        return self


class BuyerState(BaseModel):
    buyer: int
    next_step: str | None = Field(description="search, read or write; null once the visit is over.")
    outcome: str | None = Field(description="success, sold_out or gave_up once the visit is over.")
    seen: int | None
    read: int | None
    wrote: int | None
    can_step: bool = Field(description="Whether this buyer can take its next step now.")
    waits_for: str | None = Field(description="Why it cannot, in words.")


class StepState(BaseModel):
    status: Status
    steps: list[int] = Field(description="Every step taken, the schedule's first.")
    count: int = Field(description="The tickets in the store after these steps.")
    lock_holders: list[int] = Field(description="Who holds the lock (a semaphore: up to its permits).")
    buyers: list[BuyerState]
    finished: bool = Field(description="Every buyer's visit is over.")


def _state(row: SimulationRow, steps: list[int], lang: str) -> StepState:
    return _described(row, steps, play(row.config.race(), steps), lang)


def _described(row: SimulationRow, steps: list[int], model: Model, lang: str) -> StepState:
    buyers = []
    for number, b in model.buyers.items():
        blocker = model.blocker(number)
        reason = render(blocker, lang) if blocker is not None else None
        buyers.append(
            BuyerState(
                buyer=number,
                next_step=model.next_step(number),
                outcome=b.outcome,
                seen=b.seen,
                read=b.read,
                wrote=b.wrote,
                can_step=reason is None,
                waits_for=reason if b.outcome is None else None,
            )
        )
    return StepState(
        status=row.status,
        steps=steps,
        count=model.count,
        lock_holders=list(model.holders),
        buyers=buyers,
        finished=all(model.done(b) for b in model.buyers),
    )


def _stepping(row: SimulationRow) -> None:
    if row.config.mode != "step":
        raise HTTPException(status.HTTP_409_CONFLICT, fact("steps.not_step_mode", id=row.id))


@router.get("/{simulation_id}/step", responses={404: {"description": "No simulation has this id"}})
def read_steps(simulation: SimulationDep, store: StoreDep, lang: LanguageDep) -> StepState:
    """Where a step-mode simulation stands: its steps so far, the count, each buyer's next step, the lock."""
    _stepping(simulation)
    return _state(simulation, [*(simulation.config.schedule or ()), *store.steps(simulation.id)], lang)


@router.post(
    "/{simulation_id}/step",
    dependencies=[TokenDep],
    responses={
        400: {"description": "The body cannot be parsed at all (it is not UTF-8 text)"},
        401: {"description": "TICKETRUSH_API_TOKEN is set and no valid token came"},
        404: {"description": "No simulation has this id"},
        409: {"description": "Not a running step-mode simulation, or this buyer cannot take a step now"},
    },
)
def take_step(
    simulation: SimulationDep, store: StoreDep, request: Annotated[StepRequest, Body()], lang: LanguageDep
) -> StepState:
    """Let one buyer take its next step (or every buyer run to its end); answers the state it leads to."""
    _stepping(simulation)
    if simulation.status != Status.RUNNING:
        now = fact(f"status.{simulation.status}")
        raise HTTPException(status.HTTP_409_CONFLICT, fact("steps.not_running", id=simulation.id, status=now))
    first = list(simulation.config.schedule or ())

    def check(taken: list[int]) -> list[int]:
        model = play(simulation.config.race(), first + taken)
        try:
            if request.to_end:
                return complete(model)
            assert request.buyer is not None
            model.take(request.buyer)
        except ScheduleError as e:
            raise HTTPException(status.HTTP_409_CONFLICT, e.fact) from None
        return [request.buyer]

    steps = store.add_steps(simulation.id, check)
    return _state(simulation, first + steps, lang)


class TakenStep(BaseModel):
    buyer: int
    step: str = Field(description="search, read or write.")
    count: int = Field(description="The tickets in the store after this step.")
    outcome: str | None = Field(description="success, sold_out or gave_up when this step ended the buyer's visit.")


class ReplayState(StepState):
    schedule: list[int] = Field(description="The whole schedule: what the run followed, or a step-mode run's steps.")
    taken: list[TakenStep] = Field(description="The first k steps, each named, with the count it left.")


def _schedule_of(row: SimulationRow, store: Store) -> list[int]:
    """The schedule a run followed (told from its records), or the steps a step-mode run has taken so far."""
    if row.result is not None and row.result.schedule is not None:
        return list(row.result.schedule)
    if row.config.mode == "step":
        return [*(row.config.schedule or ()), *store.steps(row.id)]
    now = fact(f"status.{row.status}")
    if row.status in ACTIVE:
        reason = fact("replay.unfinished", id=row.id, status=now)
    elif row.result is None:
        reason = fact("replay.no_records", id=row.id, status=now)
    elif (
        row.config.strategy not in SCHEDULED_STRATEGIES
        or row.config.executor != "process"
        or row.config.buyers > MAX_SCHEDULED_BUYERS
    ):
        reason = fact("replay.not_steppable", id=row.id, n=MAX_SCHEDULED_BUYERS)
    else:
        reason = fact("replay.untold", id=row.id)
    raise HTTPException(status.HTTP_409_CONFLICT, reason)


@router.get(
    "/{simulation_id}/replay",
    responses={
        404: {"description": "No simulation has this id"},
        409: {"description": "The simulation has no schedule (yet) to replay"},
        422: {"description": "`steps` is more than the schedule has"},
    },
)
def replay_steps(
    simulation: SimulationDep,
    store: StoreDep,
    lang: LanguageDep,
    steps: Annotated[
        int | None, Query(ge=0, le=MAX_SCHEDULE, description="How many of the schedule's steps; all when absent.")
    ] = None,
) -> ReplayState:
    """Where the race stood after the first `steps` steps of the schedule a run followed (a step-mode run: of the
    steps taken so far): the count, who holds the lock, each buyer's next step, and each step taken, named."""
    schedule = _schedule_of(simulation, store)
    k = len(schedule) if steps is None else steps
    if k > len(schedule):
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "steps"),
                    "msg": render(fact("replay.steps", n=len(schedule), got=k), lang),
                    "input": k,
                }
            ]
        )
    model = Model.start(simulation.config.race())
    taken = []
    for buyer in schedule[:k]:
        try:
            name = model.take(buyer)
        except ScheduleError as e:  # a schedule the model confirmed when it was stored: never, unless it changed
            raise HTTPException(status.HTTP_409_CONFLICT, fact("replay.broken", reason=e.fact)) from None
        outcome = model.buyers[buyer].outcome
        taken.append(TakenStep(buyer=buyer, step=name, count=model.count, outcome=outcome))
    state = _described(simulation, schedule[:k], model, lang)
    return ReplayState(**state.model_dump(), schedule=schedule, taken=taken)

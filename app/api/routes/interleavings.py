"""/interleavings: every schedule of a small race, counted by outcome, with a witness for each (no processes run:
the engine's schedule model enumerates them; a witness passed as `schedule` to POST /simulations comes true)."""

from __future__ import annotations

from typing import NoReturn

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from app.schemas import SimulationCreate
from workers.errors import Refusal
from workers.schedules import MAX_ENUMERATED_BUYERS, SCHEDULED_STRATEGIES, interleavings
from workers.speech import Fact, fact, one_of

router = APIRouter(prefix="/interleavings", tags=["interleavings"])


class InterleavingOutcome(BaseModel):
    oversold: int = Field(description="Tickets handed out beyond the seats, in every schedule of this group.")
    handed_out: int = Field(description="Buyers told they got a ticket.")
    tickets_remaining: int
    schedules: int = Field(description="How many schedules give this outcome.")
    witness: list[int] = Field(description="One of them, to pass as `schedule` to POST /simulations.")


class InterleavingsPublic(BaseModel):
    total: int = Field(description="Every complete schedule of the race.")
    outcomes: list[InterleavingOutcome] = Field(description="Each distinct outcome, the most oversold first.")


def _refuse(field: str, value: object, allowed: Fact) -> NoReturn:
    refusal = Refusal(allowed)
    raise RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("body", field),
                "msg": f"Value error, {refusal}",
                "input": value,
                "ctx": {"error": refusal},
            }
        ]
    )


@router.post(
    "",
    responses={
        400: {"description": "The body cannot be parsed at all (it is not UTF-8 text)"},
        413: {"description": "The body is larger than any simulation config (16 KiB)"},
        422: {"description": "Invalid config, more than 4 buyers, or a strategy with no steps"},
    },
)
def count_interleavings(config: SimulationCreate) -> InterleavingsPublic:
    """Every schedule of the race this config describes (up to 4 buyers; read-write or optimistic)."""
    if config.buyers > MAX_ENUMERATED_BUYERS:
        _refuse("buyers", config.buyers, fact("interleavings.buyers", n=MAX_ENUMERATED_BUYERS))
    if config.strategy not in SCHEDULED_STRATEGIES:
        _refuse("strategy", config.strategy, fact("interleavings.strategy", strategies=one_of(SCHEDULED_STRATEGIES)))
    counted = interleavings(config.race())
    return InterleavingsPublic(
        total=counted.total,
        outcomes=[
            InterleavingOutcome(
                oversold=o.oversold, handed_out=o.handed_out, tickets_remaining=o.remaining, schedules=n, witness=w
            )
            for o, n, w in counted.outcomes
        ],
    )

"""Domain errors to HTTP answers, in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.dispatcher import LimitExceeded, QueueFull
from app.lifecycle import InvalidTransition
from app.store import SimulationBusy, SimulationNotFound

_BODY_MESSAGES = {
    "json_invalid": "the body is not valid JSON: {error}",
    "model_attributes_type": "the body must be a JSON object of simulation settings, sent as application/json",
    "missing": "the body is missing: send a JSON object of simulation settings ({{}} for every default)",
}


def _clearer(error: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's own words for a body that is not a JSON object are vague; say what is wrong with it."""
    loc = tuple(error.get("loc", ()))
    body_level = loc == ("body",) or (error.get("type") == "json_invalid" and loc[:1] == ("body",))
    template = _BODY_MESSAGES.get(error.get("type", ""))
    if not body_level or template is None:
        return error
    return {**error, "msg": template.format(error=error.get("ctx", {}).get("error", "it cannot be parsed"))}


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_clearer(dict(e)) for e in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _detail(code: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=code)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return _detail(status.HTTP_409_CONFLICT, str(exc))


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return _detail(status.HTTP_404_NOT_FOUND, f"no simulation has the id '{exc}'")


async def _queue_full(request: Request, exc: Exception) -> JSONResponse:
    return _detail(status.HTTP_429_TOO_MANY_REQUESTS, str(exc))


async def _limit_exceeded(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LimitExceeded)
    error = {
        "type": "limit_exceeded",
        "loc": ["body", exc.field],
        "msg": f"{exc.field}: {exc.message}",
        "input": exc.value,
        "ctx": {"limit": exc.limit},
    }
    return JSONResponse({"detail": [error]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(SimulationBusy, _conflict)
    app.add_exception_handler(SimulationNotFound, _not_found)
    app.add_exception_handler(QueueFull, _queue_full)
    app.add_exception_handler(LimitExceeded, _limit_exceeded)

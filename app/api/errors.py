"""Domain errors to HTTP answers, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from app.dispatcher import LimitExceeded, QueueFull
from app.lifecycle import InvalidTransition
from app.store import SimulationBusy, SimulationNotFound


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
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(SimulationBusy, _conflict)
    app.add_exception_handler(SimulationNotFound, _not_found)
    app.add_exception_handler(QueueFull, _queue_full)
    app.add_exception_handler(LimitExceeded, _limit_exceeded)

"""Domain errors to HTTP answers, in one place, each said in the request's language (?lang=, Accept-Language).

An error that carries a fact (workers.speech: a Refusal, an HTTPException whose detail is a fact, QueueFull...) is
rendered here, from the catalogues, so that routes and the engine state facts and never choose words.
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from app.api.deps import request_language
from app.dispatcher import RETRY_AFTER_S, LimitExceeded, QueueFull, ShuttingDown
from app.lifecycle import InvalidTransition
from app.store_errors import SimulationBusy, SimulationNotFound, StoreError
from workers.config_errors import field_errors
from workers.errors import Told
from workers.speech import catalogue, fact, is_fact, render, said, told

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

STORE_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The store cannot be read or written (the data directory is full or read-only)"}
}

_BODY_MESSAGES = {"json_invalid", "model_attributes_type", "missing"}  # said as body.<type> (workers/locales)


def _clearer(error: dict[str, Any], lang: str) -> dict[str, Any]:
    """FastAPI's own words for a body that is not a JSON object are vague; say what is wrong with it."""
    loc = tuple(error.get("loc", ()))
    body_level = loc == ("body",) or (error.get("type") == "json_invalid" and loc[:1] == ("body",))
    if not body_level or error.get("type") not in _BODY_MESSAGES:
        return error
    cause = error.get("ctx", {}).get("error") or render(fact("body.unparsed"), lang)
    return {**error, "msg": render(fact(f"body.{error['type']}", error=cause), lang)}


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or Infinity: an echoed input that holds one shows it as the literal that was sent."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # 'NaN', 'Infinity' or '-Infinity'
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _is_field_error(error: dict[str, Any]) -> bool:
    """An error about one field of the body (not the body as a whole, whose JSON errors give a position)."""
    loc = tuple(error.get("loc", ()))
    return len(loc) > 1 and loc[0] == "body" and isinstance(loc[1], str) and error.get("type") != "json_invalid"


def _one_per_field(errors: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The body's field errors merged into one each, in the user's words and language (workers.config_errors);
    the others (the body as a whole, query parameters) as they are, a refusal that carries a fact in `lang`.
    """
    in_body = [e for e in errors if _is_field_error(e)]
    merged = [
        {"type": f.type, "loc": ["body", f.field], "msg": f.message, "input": f.input}
        for f in field_errors([{**e, "loc": tuple(e["loc"])[1:]} for e in in_body], lang=lang)
    ]
    return merged + [_said(_clearer(e, lang), lang) for e in errors if e not in in_body]


def _said(error: dict[str, Any], lang: str) -> dict[str, Any]:
    """An error refused by a Refusal (a validator of the body as a whole, a route's own check), said in `lang`."""
    refusal = (error.get("ctx") or {}).get("error")
    return {**error, "msg": told(refusal, lang)} if isinstance(refusal, Told) else error


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _one_per_field([dict(e) for e in exc.errors()], request_language(request))
    return JSONResponse(
        {"detail": _json_safe(jsonable_encoder(errors))}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def _detail(code: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=code)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return _detail(status.HTTP_409_CONFLICT, told(exc, request_language(request)))


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return _detail(
        status.HTTP_404_NOT_FOUND, render(fact("api.no_simulation", id=f"'{exc}'"), request_language(request))
    )


async def _queue_full(request: Request, exc: Exception) -> JSONResponse:
    response = _detail(status.HTTP_429_TOO_MANY_REQUESTS, told(exc, request_language(request)))
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


async def _shutting_down(request: Request, exc: Exception) -> JSONResponse:
    response = _detail(status.HTTP_503_SERVICE_UNAVAILABLE, told(exc, request_language(request)))
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The data directory is full, read-only or gone: say so (the sqlite cause, not the server's paths)."""
    unavailable = fact("api.store_unavailable", cause=str(exc.__cause__ or exc))
    return _detail(status.HTTP_503_SERVICE_UNAVAILABLE, render(unavailable, request_language(request)))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: answered in JSON like every other error (the traceback goes to the server's log, not the client)."""
    return _detail(status.HTTP_500_INTERNAL_SERVER_ERROR, render(fact("api.unexpected"), request_language(request)))


async def _limit_exceeded(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LimitExceeded)
    lang = request_language(request)
    error = {
        "type": "limit_exceeded",
        "loc": ["body", exc.field],
        "msg": render(fact("field.refused", field=exc.field, message=said(exc.message, lang)), lang),
        "input": exc.value,
        "ctx": {"limit": exc.limit},
    }
    return JSONResponse({"detail": [error]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _allowed_methods(request: Request) -> list[str]:
    """The methods the routes at this path take (mounted apps such as /static answer for themselves)."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def _words(request: Request, exc: StarletteHTTPException) -> str:
    """The detail in the request's language: a fact rendered; routing's own phrase ('Not Found') from the
    catalogue's `http.<code>` when it has one; other words as they are."""
    lang = request_language(request)
    if is_fact(exc.detail):
        return render(exc.detail, lang)
    code = f"http.{exc.status_code}"
    if exc.detail == HTTPStatus(exc.status_code).phrase and code in catalogue(lang):
        return render(fact(code), lang)
    return str(exc.detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    """A 405 lists every method of the resource in `Allow`; routing alone names only the first route's."""
    assert isinstance(exc, StarletteHTTPException)
    allowed = _allowed_methods(request) if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED else []
    headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)} if allowed else exc.headers
    return await http_exception_handler(request, StarletteHTTPException(exc.status_code, _words(request, exc), headers))


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(SimulationBusy, _conflict)
    app.add_exception_handler(SimulationNotFound, _not_found)
    app.add_exception_handler(QueueFull, _queue_full)
    app.add_exception_handler(ShuttingDown, _shutting_down)
    app.add_exception_handler(LimitExceeded, _limit_exceeded)
    app.add_exception_handler(StoreError, _store_unavailable)
    app.add_exception_handler(Exception, _unexpected)

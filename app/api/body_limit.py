"""A limit on request bodies that answers 413 in JSON, like every other error of the API.

A body announced larger than the limit (Content-Length) is refused before a byte of it is read; a chunked
body is counted as it arrives and refused as soon as it passes the limit, through the app's own handler for
HTTP errors.
"""

from __future__ import annotations

from fastapi import status
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import request_language
from workers.speech import fact, render


def too_large(limit: int, scope: Scope) -> str:
    """The refusal, in the language of the request of `scope` (?lang=, Accept-Language)."""
    return render(fact("api.too_large", limit=limit), request_language(Request(scope)))


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = Headers(scope=scope).get("content-length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            response = JSONResponse({"detail": too_large(self.max_bytes, scope)}, status.HTTP_413_CONTENT_TOO_LARGE)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large(self.max_bytes, scope))
            return message

        await self.app(scope, counted, send)

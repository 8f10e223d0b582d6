"""A cap on request bodies other than uploads (JSON specs and prediction bodies), so that
memory stays bounded by the setting, not by what a client sends. Uploads (multipart) have
their own limit, counted as they stream."""

from __future__ import annotations

from typing import Any

from service.errors import TooLarge
from service.settings import get_settings


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"request body over {limit} bytes (setting DESCENT_MAX_JSON_BYTES); send less per "
        "request (split prediction rows over several requests)"
    )


class BodyLimit:
    """ASGI middleware: a declared ``Content-Length`` over the limit is refused before
    anything is read; a body without one is counted as it arrives."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        limit = get_settings().max_json_bytes
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit, declared.isdigit())
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server reads no more than declared
            return
        # No length declared (chunked): read it here, up to the limit, then hand it on.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > limit:
                await self._refuse(scope, receive, send, limit, True)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    @staticmethod
    async def _refuse(scope: Any, receive: Any, send: Any, limit: int, numeric: bool) -> None:
        from starlette.responses import JSONResponse

        if numeric:
            detail, status = _too_large(limit).detail, 413
        else:
            detail, status = "Content-Length must be a number of bytes", 400
        await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives the body read so far, then whatever the client sends next
    (a response that streams waits on it to learn of a disconnect)."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

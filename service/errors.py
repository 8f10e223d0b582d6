"""One error base class carrying its HTTP status, one handler that renders it."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mlengine.errors import InputError, InputTooLarge, SpecError

log = logging.getLogger("descent.api")

REQUEST_ID_HEADER = "X-Request-ID"


def request_id(request: Request) -> str:
    """This request's id (made once per request; logged with its errors)."""
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = secrets.token_hex(8)
    return str(rid)


class ApiError(Exception):
    status_code = 400

    def __init__(
        self,
        detail: Any,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.detail = detail
        self.headers = headers
        if status_code is not None:
            self.status_code = status_code
        super().__init__(str(detail))


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class TooLarge(ApiError):
    status_code = 413


class UnsupportedMedia(ApiError):
    status_code = 415


class Unprocessable(ApiError):
    status_code = 422

    @classmethod
    def at(cls, loc: list[str | int], msg: str, type_: str = "value_error") -> Unprocessable:
        return cls([{"loc": loc, "msg": msg, "type": type_}])


class TooManyRequests(ApiError):
    status_code = 429


class Unavailable(ApiError):
    status_code = 503


def install_error_handler(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    async def handle_spec(request: Request, exc: Exception) -> JSONResponse:
        # The engine's spec errors are relative to the spec, which is the request body.
        assert isinstance(exc, SpecError)
        detail = [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors]
        return JSONResponse({"detail": detail}, status_code=422)

    async def handle_input(request: Request, exc: Exception) -> JSONResponse:
        # A prediction body the model cannot take; too many rows is a 413.
        assert isinstance(exc, InputError)
        if isinstance(exc, InputTooLarge):
            return JSONResponse({"detail": exc.message}, status_code=413)
        detail = [{"loc": ["body", *exc.loc], "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug: logged with the request id, answered as JSON like every other error.
        rid = request_id(request)
        log.error("request %s: %s %s failed", rid, request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            {
                "detail": (
                    f"internal error ({type(exc).__name__}); it was logged with request id "
                    f"{rid}: quote it when you report the problem"
                ),
                "request_id": rid,
            },
            status_code=500,
            headers={REQUEST_ID_HEADER: rid},
        )

    @app.middleware("http")
    async def tag_request(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request_id(request)
        return response

    app.add_exception_handler(ApiError, handle)
    app.add_exception_handler(Exception, handle_unexpected)
    app.add_exception_handler(SpecError, handle_spec)
    app.add_exception_handler(InputError, handle_input)

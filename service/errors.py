"""One error base class carrying its HTTP status, one handler that renders it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class ApiError(Exception):
    status_code = 400

    def __init__(self, detail: Any, status_code: int | None = None):
        self.detail = detail
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


class Unavailable(ApiError):
    status_code = 503


def install_error_handler(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    app.add_exception_handler(ApiError, handle)

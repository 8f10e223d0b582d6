"""/healthz and /readyz (no token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.db import get_engine
from service.queue import broker_ok

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _database_ok() -> str | None:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@router.get(
    "/readyz",
    summary="The database and the broker answer",
    responses={503: {"description": "Names the database or broker that did not answer"}},
)
async def readyz() -> JSONResponse:
    db = await run_in_threadpool(_database_ok)
    broker = await run_in_threadpool(broker_ok)
    checks = {"database": db or "ok", "broker": broker or "ok"}
    if db or broker:
        down = " and ".join(n for n, e in (("database", db), ("broker", broker)) if e)
        return JSONResponse(
            {"status": "unavailable", "detail": f"the {down} did not answer", "checks": checks},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "checks": checks})

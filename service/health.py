"""/healthz and /readyz (no token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.db import get_engine
from service.migrate import schema_behind
from service.queue import broker_ok
from service.supervisor import current as current_supervisor

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


def _schema_ok() -> str | None:
    try:
        return schema_behind(get_engine())
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@router.get(
    "/readyz",
    summary="Database (at the code's schema), broker and, under `serve`, its worker are up",
    responses={503: {"description": "Names what is not ready: database, schema, broker, worker"}},
)
async def readyz() -> JSONResponse:
    silent = {
        "database": await run_in_threadpool(_database_ok),
        "broker": await run_in_threadpool(broker_ok),
    }
    problems: dict[str, str | None] = dict(silent)
    if silent["database"] is None:  # it answers: is it at the code's schema?
        problems["database"] = await run_in_threadpool(_schema_ok)
    supervisor = current_supervisor()
    if supervisor is not None:  # descent serve: its own worker must be running
        problems["worker"] = supervisor.status()
    checks = {name: why or "ok" for name, why in problems.items()}
    down = [name for name, why in silent.items() if why]
    parts = [f"the {' and '.join(down)} did not answer"] if down else []
    parts += [why for name, why in problems.items() if why and name not in down]
    if parts:
        return JSONResponse(
            {"status": "unavailable", "detail": "; ".join(parts), "checks": checks},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "checks": checks})

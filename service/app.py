"""The FastAPI application."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from service.bodylimit import BodyLimit
from service.datasets.router import router as datasets_router
from service.errors import install_error_handler
from service.health import router as health_router
from service.jobs.router import router as jobs_router
from service.models.router import router as models_router
from service.reaper import start_reaper

DESCRIPTION = """
Upload datasets, submit training jobs (neural nets, classical models, reinforcement
learning), watch their metrics and checkpoints, and serve predictions.

Every `/v1` route needs `Authorization: Bearer <token>` (make one with
`descent keys create NAME`). Errors are `{"detail": ...}`; lists are
`{"items": [...], "next_cursor": ...}` with `?limit=` and `?cursor=`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    stop = threading.Event()
    start_reaper(stop)
    yield
    stop.set()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Descent",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    # /docs works offline: Swagger UI's files are served by the API itself, not a CDN.
    app.mount(
        "/docs/assets",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs-assets",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Descent API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    install_error_handler(app)
    app.add_middleware(BodyLimit)
    app.include_router(health_router)
    app.include_router(datasets_router)
    app.include_router(jobs_router)
    app.include_router(models_router)
    return app

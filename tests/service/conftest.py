"""A real, migrated database for the service's own tests: SQLite in a temporary folder and,
where it answers (always in CI), a fresh Postgres database. No server runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from service import db
from service.migrate import upgrade_to_head
from service.settings import Settings, get_settings
from tests.conftest import postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings pointing at a migrated, empty database; the engine is made anew."""
    monkeypatch.setenv("DESCENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DESCENT_HEARTBEAT_TIMEOUT", "5")
    monkeypatch.setenv("DESCENT_MAX_ATTEMPTS", "2")
    monkeypatch.delenv("DESCENT_DATABASE_URL", raising=False)
    with postgres_database("descent_unit") if request.param == "postgres" else nullcontext() as url:
        if url:
            monkeypatch.setenv("DESCENT_DATABASE_URL", url)
        get_settings.cache_clear()
        db._engine = None
        upgrade_to_head()
        try:
            yield get_settings()
        finally:
            if db._engine is not None:
                db._engine.dispose()
            db._engine = None
            get_settings.cache_clear()

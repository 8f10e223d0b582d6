"""A real, migrated database for the service's own tests: SQLite in a temporary folder and,
where it answers (always in CI), a fresh Postgres database. No server runs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import db
from service.migrate import upgrade_to_head
from service.settings import Settings, get_settings
from tests.conftest import IN_CI, PG_ADMIN_URL, _postgres_and_redis


@pytest.fixture(params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings pointing at a migrated, empty database; the engine is made anew."""
    monkeypatch.setenv("DESCENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DESCENT_HEARTBEAT_TIMEOUT", "5")
    monkeypatch.setenv("DESCENT_MAX_ATTEMPTS", "2")
    monkeypatch.delenv("DESCENT_DATABASE_URL", raising=False)
    dbname = None
    if request.param == "postgres":
        why = _postgres_and_redis()
        if why:
            if IN_CI:
                pytest.fail(f"CI=true requires Postgres: {why}")
            pytest.skip(f"Postgres tests skipped: {why}")
        import psycopg

        dbname = f"descent_unit_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        monkeypatch.setenv("DESCENT_DATABASE_URL", f"{base}/{dbname}")
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
        if dbname:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

"""Bring the database schema to the newest version (Alembic ``upgrade head``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

import migrations


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def upgrade_to_head() -> None:
    command.upgrade(alembic_config(), "head")


@lru_cache
def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_behind(engine: Engine) -> str | None:
    """None when the database is at the code's schema version, else what to do."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = head_revision()
    if current == head:
        return None
    return (
        f"the database schema is at version {current or 'none'}, the code needs {head}; "
        "run `descent migrate`"
    )

"""Engine, sessions and the declarative base.

One session per request (``SessionDep``) that commits on success and rolls back on
error; ``session_scope()`` is the same shape for workers and scripts. Data-access
functions flush, they do not commit.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from service.errors import NotFound
from service.settings import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


_engine: Engine | None = None
_engine_pid: int | None = None
_factory: sessionmaker[Session] | None = None


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def get_engine() -> Engine:
    """The process's engine; a forked worker child gets its own (pools do not survive fork)."""
    global _engine, _engine_pid, _factory
    if _engine is None or _engine_pid != os.getpid():
        _engine = _make_engine(get_settings().resolved_database_url)
        _engine_pid = os.getpid()
        _factory = sessionmaker(_engine, expire_on_commit=False)
    return _engine


def session_factory() -> sessionmaker[Session]:
    get_engine()
    assert _factory is not None
    return _factory


@contextmanager
def session_scope() -> Iterator[Session]:
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent, so a client that reads
# right after a write sees it.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


OwnedT = TypeVar("OwnedT", bound=Base)


def find_owned(session: Session, table: type[OwnedT], owner_id: str, row_id: str) -> OwnedT | None:
    """The owner's row, or None (another owner's row is None too)."""
    columns: Any = table  # every owned table has ``id`` and ``owner_id`` columns
    row: OwnedT | None = session.scalar(
        select(table).where(columns.id == row_id, columns.owner_id == owner_id)
    )
    return row


def get_owned(session: Session, table: type[OwnedT], owner_id: str, row_id: str) -> OwnedT:
    """The owner's row, or a 404 that reads exactly like a missing one."""
    row = find_owned(session, table, owner_id, row_id)
    if row is None:
        noun = table.__tablename__.removesuffix("s")
        shown = row_id if len(row_id) <= 64 else f"{row_id[:60]}..."  # ids are 40 at most
        raise NotFound(f"{noun} '{shown}' not found")
    return row

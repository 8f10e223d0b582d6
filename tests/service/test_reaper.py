"""The reaper's sweeps on a real (migrated SQLite) database.

The broker is the one part stood in for: ``requeue`` is a function that records what it
was asked to send, or fails the way a broker that does not answer fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from service import db
from service.auth.keys import create_key
from service.db import session_scope, utcnow
from service.jobs.store import claim, reap_stale, resend_unsent
from service.jobs.tables import Job
from service.migrate import upgrade_to_head
from service.settings import Settings, get_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("DESCENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DESCENT_HEARTBEAT_TIMEOUT", "5")
    monkeypatch.setenv("DESCENT_MAX_ATTEMPTS", "2")
    get_settings.cache_clear()
    db._engine = None
    upgrade_to_head()
    yield get_settings()
    get_settings.cache_clear()
    db._engine = None


def _job(created_ago: float, status: str = "queued") -> str:
    with session_scope() as session:
        owner, _ = create_key(session, "o")
        job = Job(
            id=db.new_id("job"),
            owner_id=owner.id,
            status=status,
            spec={},
            queue="q",
            progress={},
            metrics={},
            created_at=utcnow() - timedelta(seconds=created_ago),
        )
        session.add(job)
    return job.id


def _get(job_id: str) -> Job:
    with session_scope() as session:
        return session.scalars(select(Job).where(Job.id == job_id)).one()


def test_a_job_whose_message_never_left_is_sent_again(settings: Settings) -> None:
    sent: list[tuple[str, str]] = []
    old, fresh = _job(created_ago=60), _job(created_ago=0)

    def broker_down(job_id: str, queue: str) -> None:
        raise ConnectionError("broker down")

    assert resend_unsent(settings, broker_down) == []
    assert _get(old).enqueued_at is None
    assert resend_unsent(settings, lambda j, q: sent.append((j, q))) == [old]
    assert sent == [(old, "q")]  # the fresh one is still inside its grace period
    assert _get(old).enqueued_at is not None
    assert resend_unsent(settings, lambda j, q: sent.append((j, q))) == []
    assert _get(fresh).enqueued_at is None


def test_a_silent_worker_job_is_requeued_then_failed(settings: Settings) -> None:
    sent: list[str] = []
    job_id = _job(created_ago=60)
    with session_scope() as session:
        assert claim(session, job_id, "w1", settings)
    # Fresh heartbeat: nothing to reap.
    assert reap_stale(settings, lambda j, q: sent.append(j)) == []
    with session_scope() as session:
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=60)
    assert reap_stale(settings, lambda j, q: sent.append(j)) == [job_id]
    job = _get(job_id)
    assert job.status == "queued" and job.enqueued_at is not None and sent == [job_id]
    # The second attempt also goes silent: past max_attempts it fails, never stays running.
    with session_scope() as session:
        assert claim(session, job_id, "w2", settings)
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=60)
    assert reap_stale(settings, lambda j, q: sent.append(j)) == [job_id]
    job = _get(job_id)
    assert job.status == "failed" and job.error is not None
    assert job.error["type"] == "worker_lost" and sent == [job_id]

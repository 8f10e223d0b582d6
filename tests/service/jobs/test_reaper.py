"""The reaper's sweeps on a real (migrated) database.

The broker is the one part stood in for: ``send`` is a function that records what it
was asked to send, or fails the way a broker that does not answer fails.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.db import session_scope, utcnow
from service.jobs.service import reap_stale, resend_lost, resend_unsent, start_run
from service.jobs.tables import Job
from service.settings import Settings
from tests.service.jobs.rows import get_job, make_job


def test_a_job_whose_message_never_left_is_sent_again(database: Settings) -> None:
    settings = database
    sent: list[tuple[str, str]] = []
    old, fresh = make_job(created_ago=60), make_job(created_ago=0)

    def broker_down(job_id: str, queue: str) -> None:
        raise ConnectionError("broker down")

    assert resend_unsent(settings, broker_down) == []
    assert get_job(old).enqueued_at is None
    assert resend_unsent(settings, lambda j, q: sent.append((j, q))) == [old]
    assert sent == [(old, "q")]  # the fresh one is still inside its grace period
    assert get_job(old).enqueued_at is not None
    assert resend_unsent(settings, lambda j, q: sent.append((j, q))) == []
    assert get_job(fresh).enqueued_at is None


def test_a_silent_worker_job_is_requeued_then_failed(database: Settings) -> None:
    settings = database
    sent: list[str] = []
    job_id = make_job(created_ago=60)
    assert start_run(job_id, "w1")
    # Fresh heartbeat: nothing to reap.
    assert reap_stale(settings, lambda j, q: sent.append(j)) == []
    with session_scope() as session:
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=60)
    assert reap_stale(settings, lambda j, q: sent.append(j)) == [job_id]
    job = get_job(job_id)
    assert job.status == "queued" and job.enqueued_at is not None and sent == [job_id]
    # The second attempt also goes silent: past max_attempts it fails, never stays running.
    assert start_run(job_id, "w2")
    with session_scope() as session:
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=60)
    assert reap_stale(settings, lambda j, q: sent.append(j)) == [job_id]
    job = get_job(job_id)
    assert job.status == "failed" and job.error is not None
    assert job.error["type"] == "worker_lost" and sent == [job_id]


def _sent(job_id: str, ago: float) -> None:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        job.enqueued_at = utcnow() - timedelta(seconds=ago)
        job.sends += 1


def test_a_job_whose_message_was_lost_is_sent_again_then_failed(database: Settings) -> None:
    settings = database  # max_attempts 2
    sent: list[str] = []
    lost, waits, fresh = make_job(60), make_job(60), make_job(60)
    _sent(lost, 60)
    _sent(waits, 60)
    _sent(fresh, 0)

    def waiting(queue: str) -> set[str]:
        assert queue == "q"
        return {waits}

    assert resend_lost(settings, lambda j, q: sent.append(j), waiting) == [lost]
    assert sent == [lost]
    job = get_job(lost)
    assert job.status == "queued" and job.sends == 2 and job.enqueued_at is not None
    # Lost again: the second send was the last.
    _sent(lost, 60)
    assert resend_lost(settings, lambda j, q: sent.append(j), waiting) == [lost]
    job = get_job(lost)
    assert job.status == "failed" and job.error is not None and sent == [lost]
    assert job.error["type"] == "message_lost" and "'q'" in job.error["message"]
    assert get_job(waits).status == "queued" and get_job(fresh).status == "queued"


def test_a_broker_that_does_not_answer_changes_nothing(database: Settings) -> None:
    job_id = make_job(60)
    _sent(job_id, 60)

    def broker_down(queue: str) -> set[str]:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        resend_lost(database, lambda j, q: None, broker_down)
    assert get_job(job_id).sends == 1 and get_job(job_id).status == "queued"

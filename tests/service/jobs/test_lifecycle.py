"""The job lifecycle on a real database, without a server: submit, claim, beat, the rows a
run writes, its end, cancel, and a run that lost its job to another."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from mlengine import validate_spec
from mlengine.types import Limits, ModelInfo, TrainResult
from service.auth.tables import Owner
from service.db import session_scope, utcnow
from service.errors import Conflict, Unavailable
from service.jobs import service as jobs
from service.jobs.tables import Checkpoint, Job, JobStatus, MetricPoint
from service.models.tables import Model
from service.settings import Settings
from tests.service.jobs.rows import get_job, make_job

SPEC = {"environment": {"id": "FrozenLake-v1"}, "model": {"type": "q_learning"}}


def _owner() -> Owner:
    with session_scope() as session:
        return session.get_one(Owner, get_job(make_job()).owner_id)


def _point(job_id: str, step: int, value: float) -> dict[str, Any]:
    return {"job_id": job_id, "name": "loss", "step": step, "value": value, "time": utcnow()}


def _count(table: Any, job_id: str) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).where(table.job_id == job_id)) or 0)


def test_submit_commits_sends_and_marks_sent(database: Settings) -> None:
    owner = _owner()
    sent: list[tuple[str, str]] = []
    with session_scope() as session:
        job = jobs.submit(session, owner, SPEC, "key-1", send=lambda j, q: sent.append((j, q)))
        job_id = job.id
    assert sent == [(job_id, database.default_queue)]
    saved = get_job(job_id)
    assert saved.status == JobStatus.QUEUED and saved.enqueued_at is not None
    assert saved.spec["model"]["params"]  # saved with every default filled in
    # The same key gives the first job back and sends nothing more.
    with session_scope() as session:
        again = jobs.submit(session, owner, SPEC, "key-1", send=lambda j, q: sent.append((j, q)))
        assert again.id == job_id
    assert len(sent) == 1


def test_submit_with_the_broker_down_saves_nothing(database: Settings) -> None:
    owner = _owner()

    def broker_down(job_id: str, queue: str) -> None:
        raise ConnectionError("broker down")

    with session_scope() as session, pytest.raises(Unavailable, match="nothing was saved"):
        jobs.submit(session, owner, SPEC, None, send=broker_down)
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1  # _owner's own job


def test_claim_is_exclusive_and_counts_attempts(database: Settings) -> None:
    job_id = make_job()
    run = jobs.start_run(job_id, "w1")
    assert run is not None
    assert jobs.start_run(job_id, "w2") is None  # a duplicate message is harmless
    job = get_job(job_id)
    assert job.status == JobStatus.RUNNING and job.worker == "w1" and job.attempts == 1
    assert job.started_at is not None


def test_beat_reports_cancel_and_progress(database: Settings) -> None:
    job_id = make_job()
    run = jobs.start_run(job_id, "w1")
    assert run is not None
    assert jobs.heartbeat(run, {"fraction": 0.5}) is False
    assert get_job(job_id).progress == {"fraction": 0.5}
    with session_scope() as session:
        owner = session.get_one(Owner, get_job(job_id).owner_id)
        assert jobs.cancel(session, owner, job_id).status == JobStatus.RUNNING
    assert jobs.heartbeat(run, None) is True
    assert jobs.end(run, JobStatus.CANCELLED)
    assert get_job(job_id).status == JobStatus.CANCELLED
    with session_scope() as session, pytest.raises(Conflict, match="already ended"):
        jobs.cancel(session, owner, job_id)


def test_a_queued_job_cancelled_never_starts(database: Settings) -> None:
    job_id = make_job()
    with session_scope() as session:
        owner = session.get_one(Owner, get_job(job_id).owner_id)
        jobs.cancel(session, owner, job_id)
    assert get_job(job_id).status == JobStatus.CANCELLED
    assert jobs.start_run(job_id, "w1") is None


def test_a_run_writes_points_once_checkpoints_and_the_model(database: Settings) -> None:
    job_id = make_job()
    run = jobs.start_run(job_id, "w1")
    assert run is not None
    assert jobs.record_points(run, [_point(job_id, 1, 0.5), _point(job_id, 2, 0.4)])
    assert jobs.record_points(run, [_point(job_id, 2, 0.4)])  # a redelivered point is kept once
    assert _count(MetricPoint, job_id) == 2
    assert jobs.record_checkpoint(run, 2, "periodic", b"state")
    assert _count(Checkpoint, job_id) == 1
    info = ModelInfo(task="regression", model_type="linear_regression", inputs=[], classes=None)
    result = TrainResult(artifact=b"model", metrics={"test_r2": 0.9}, info=info)
    assert jobs.succeed(run, result, {"epoch": 3, "epochs": 3})
    job = get_job(job_id)
    assert job.status == JobStatus.SUCCEEDED and job.metrics == {"test_r2": 0.9}
    assert job.progress == {"epoch": 3, "epochs": 3, "fraction": 1.0}
    assert job.model_id is not None and job.finished_at is not None
    assert _count(Model, job_id) == 1


def test_a_run_that_lost_its_job_writes_nothing(database: Settings) -> None:
    job_id = make_job()
    first = jobs.start_run(job_id, "w1")
    assert first is not None
    with session_scope() as session:  # the first worker went silent
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=60)
    second = jobs.start_run(job_id, "w2")
    assert second is not None and get_job(job_id).attempts == 2
    assert jobs.heartbeat(first, None) is None
    assert not jobs.record_points(first, [_point(job_id, 1, 0.5)])
    assert not jobs.record_checkpoint(first, 1, "periodic", b"state")
    assert not jobs.end(first, JobStatus.FAILED, {"type": "x", "message": "y"})
    assert _count(MetricPoint, job_id) == 0 and _count(Checkpoint, job_id) == 0
    assert get_job(job_id).status == JobStatus.RUNNING
    assert jobs.still_owned(second) and not jobs.still_owned(first)


def test_a_resumed_run_forgets_what_came_after_its_checkpoint(database: Settings) -> None:
    job_id = make_job()
    first = jobs.start_run(job_id, "w1")
    assert first is not None
    jobs.record_points(first, [_point(job_id, s, 1.0 / s) for s in (1, 2, 3)])
    jobs.record_checkpoint(first, 2, "periodic", b"at-2")
    with session_scope() as session:
        session.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=60)
    second = jobs.start_run(job_id, "w2")
    assert second is not None
    with session_scope() as session:  # a spec the engine takes; the row was made bare
        session.get_one(Job, job_id).spec = validate_spec(SPEC, Limits()).model_dump(mode="json")
    inputs = jobs.load_inputs(second)
    assert inputs.resume == b"at-2" and inputs.table is None
    with session_scope() as session:
        steps = session.scalars(select(MetricPoint.step).where(MetricPoint.job_id == job_id))
        assert sorted(steps) == [1, 2]

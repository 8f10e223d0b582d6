"""The jobs domain's data access: every query and write on jobs, their metric points,
checkpoints and the model a run makes. Functions flush, they do not commit.

Every status change is one conditional UPDATE, so two processes racing on one job (a
redelivered task, two reapers, a cancel during a claim) cannot both win.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.auth.tables import Owner
from service.blobs import delete_blobs, put_blob
from service.db import find_owned, get_owned, new_id, utcnow
from service.jobs.tables import ACTIVE_STATUSES, Checkpoint, Job, JobStatus, MetricPoint
from service.models.tables import Model

# -- reads --


def get_owned_job(session: Session, owner: Owner, job_id: str) -> Job:
    """The owner's job, or a 404."""
    return get_owned(session, Job, owner.id, job_id)


def find_owned_job(session: Session, owner_id: str, job_id: str) -> Job | None:
    return find_owned(session, Job, owner_id, job_id)


def by_idempotency_key(session: Session, owner_id: str, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key))


def jobs_query(owner_id: str, status: JobStatus | None) -> Select[Job]:
    stmt = select(Job).where(Job.owner_id == owner_id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    return stmt


def points_query(job_id: str, name: str | None, after_step: int | None) -> Select[MetricPoint]:
    stmt = select(MetricPoint).where(MetricPoint.job_id == job_id)
    if name is not None:
        stmt = stmt.where(MetricPoint.name == name)
    if after_step is not None:
        stmt = stmt.where(MetricPoint.step > after_step)
    return stmt


def checkpoints_query(job_id: str) -> Select[Checkpoint]:
    return select(Checkpoint).where(Checkpoint.job_id == job_id)


def get_checkpoint(session: Session, job_id: str, checkpoint_id: str) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint).where(Checkpoint.id == checkpoint_id, Checkpoint.job_id == job_id)
    )


def newest_checkpoint(session: Session, job_id: str) -> Checkpoint | None:
    """The checkpoint a resumed run starts from (the "final" one is the end of a run)."""
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.job_id == job_id, Checkpoint.kind != "final")
        .order_by(Checkpoint.step.desc(), Checkpoint.created_at.desc())
        .limit(1)
    )


def dataset_in_use(session: Session, dataset_id: str) -> bool:
    """Whether a queued or running job reads this dataset."""
    return bool(
        session.scalar(
            select(exists().where(Job.dataset_id == dataset_id, Job.status.in_(ACTIVE_STATUSES)))
        )
    )


def run_token(session: Session, job_id: str) -> str | None:
    return session.scalar(select(Job.run_token).where(Job.id == job_id))


def model_of(session: Session, job_id: str) -> Model | None:
    return session.scalar(select(Model).where(Model.job_id == job_id))


def source_model(session: Session, owner_id: str, job_id: str) -> Model | None:
    return session.scalar(select(Model).where(Model.job_id == job_id, Model.owner_id == owner_id))


def stale_running(session: Session, cutoff: datetime) -> list[Any]:
    """Running jobs whose worker has not beaten since ``cutoff``."""
    return list(
        session.execute(
            select(Job.id, Job.attempts, Job.cancel_requested, Job.queue, Job.heartbeat_at)
            .where(Job.status == JobStatus.RUNNING, Job.heartbeat_at < cutoff)
            .limit(100)
        )
    )


def unsent_queued(session: Session, created_before: datetime) -> list[Any]:
    """Queued jobs whose message never reached the queue, created before the cutoff."""
    return list(
        session.execute(
            select(Job.id, Job.queue)
            .where(
                Job.status == JobStatus.QUEUED,
                Job.enqueued_at.is_(None),
                Job.created_at < created_before,
            )
            .limit(100)
        )
    )


def sent_queued(session: Session, sent_before: datetime) -> list[Any]:
    """Queued jobs whose message was sent before the cutoff and not yet claimed."""
    return list(
        session.execute(
            select(Job.id, Job.queue, Job.enqueued_at, Job.sends)
            .where(Job.status == JobStatus.QUEUED, Job.enqueued_at < sent_before)
            .order_by(Job.enqueued_at)
            .limit(500)
        )
    )


# -- writes --


def add_job(session: Session, **values: Any) -> Job:
    job = Job(id=new_id("job"), status=JobStatus.QUEUED, **values)
    session.add(job)
    return job


def delete_job(session: Session, job: Job) -> None:
    session.delete(job)
    session.flush()


def _conditional(session: Session, *where: Any, **values: Any) -> bool:
    result = session.execute(
        update(Job).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def mark_enqueued(session: Session, job_id: str) -> None:
    _conditional(
        session,
        Job.id == job_id,
        Job.status == JobStatus.QUEUED,
        enqueued_at=utcnow(),
        sends=Job.sends + 1,
    )


def request_cancel(session: Session, job: Job) -> bool:
    """Ask an active job to stop; a queued one ends ``cancelled`` at once. False if it ended."""
    session.refresh(job, with_for_update=session.get_bind().dialect.name != "sqlite")
    if job.status not in ACTIVE_STATUSES:
        return False
    job.cancel_requested = True
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.CANCELLED
        job.finished_at = utcnow()
    session.flush()
    return True


def claim(session: Session, job_id: str, worker: str, stale_before: datetime) -> str | None:
    """Mark a queued job (or one whose worker went silent) running; returns the run token."""
    now = utcnow()
    token = secrets.token_hex(8)
    won = _conditional(
        session,
        Job.id == job_id,
        or_(
            Job.status == JobStatus.QUEUED,
            (Job.status == JobStatus.RUNNING) & (Job.heartbeat_at < stale_before),
        ),
        status=JobStatus.RUNNING,
        run_token=token,
        worker=worker,
        heartbeat_at=now,
        attempts=Job.attempts + 1,
    )
    if not won:
        return None
    _conditional(session, Job.id == job_id, Job.started_at.is_(None), started_at=now)
    return token


def _owned_by_run(job_id: str, token: str) -> tuple[Any, ...]:
    return (Job.id == job_id, Job.run_token == token, Job.status == JobStatus.RUNNING)


def beat(session: Session, job_id: str, token: str, progress: dict[str, Any] | None) -> bool | None:
    """Heartbeat for a running job; returns whether cancel was asked, None if the run lost it."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    if not _conditional(session, *_owned_by_run(job_id, token), **values):
        return None
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def finish(session: Session, job_id: str, token: str, status: JobStatus, **values: Any) -> bool:
    """End a run: status and result fields, only if this run still owns the job."""
    values.setdefault("finished_at", utcnow())
    return _conditional(session, *_owned_by_run(job_id, token), status=status, **values)


def end_lost(session: Session, job_id: str, sent_at: datetime, **values: Any) -> bool:
    """Resend or fail a queued job whose message is lost, only if it is still queued with
    that message (no worker claimed it, no one sent it again since)."""
    return _conditional(
        session,
        Job.id == job_id,
        Job.status == JobStatus.QUEUED,
        Job.enqueued_at == sent_at,
        **values,
    )


def end_stale(session: Session, job_id: str, heartbeat_at: datetime, **values: Any) -> bool:
    """Requeue, fail or cancel a running job whose worker went silent, only if no one else
    touched it since that heartbeat was read."""
    return _conditional(
        session,
        Job.id == job_id,
        Job.status == JobStatus.RUNNING,
        Job.heartbeat_at == heartbeat_at,
        **values,
    )


def reset_after(session: Session, job_id: str, step: int | None) -> None:
    """Forget what a previous run wrote after ``step`` (all of it when None), so a rerun or a
    resumed run writes each metric point and checkpoint once."""
    points = delete(MetricPoint).where(MetricPoint.job_id == job_id)
    ckpts = select(Checkpoint).where(Checkpoint.job_id == job_id)
    if step is not None:
        points = points.where(MetricPoint.step > step)
        ckpts = ckpts.where(Checkpoint.step > step)
    session.execute(points)
    stale = list(session.scalars(ckpts))
    for ckpt in stale:
        session.delete(ckpt)
    session.flush()
    delete_blobs(session, [c.blob_id for c in stale])


def insert_points(session: Session, rows: list[dict[str, Any]]) -> None:
    """Metric points; one already written (a redelivered run) is kept, not duplicated."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(MetricPoint).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(MetricPoint).on_conflict_do_nothing()
    else:
        stmt = insert(MetricPoint)
    session.execute(stmt, rows)


def add_checkpoint(session: Session, job_id: str, step: int, kind: str, data: bytes) -> Checkpoint:
    blob = put_blob(session, data)
    ckpt = Checkpoint(
        id=new_id("ckpt"),
        job_id=job_id,
        step=step,
        kind=kind,
        size_bytes=blob.size_bytes,
        sha256=blob.sha256,
        blob_id=blob.id,
    )
    session.add(ckpt)
    session.flush()
    return ckpt


def add_model(session: Session, job: Job, artifact: bytes, **values: Any) -> Model:
    blob = put_blob(session, artifact)
    model = Model(id=new_id("mdl"), owner_id=job.owner_id, job_id=job.id, blob_id=blob.id, **values)
    session.add(model)
    session.flush()
    return model

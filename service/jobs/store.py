"""Job state transitions, shared by the API and the workers.

Every transition is one conditional UPDATE, so two processes racing on one job
(a redelivered task, two reapers) cannot both win.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from service.auth.tables import Owner
from service.blobs import delete_blobs
from service.db import get_owned, session_scope, utcnow
from service.jobs.tables import Checkpoint, Job, MetricPoint
from service.settings import Settings

log = logging.getLogger("descent.jobs")


def get_owned_job(session: Session, owner: Owner, job_id: str) -> Job:
    return get_owned(session, Job, owner.id, job_id)


def claim(session: Session, job_id: str, worker: str, settings: Settings) -> str | None:
    """Mark a queued job (or one whose worker went silent) running; returns the run token."""
    now = utcnow()
    stale = now - timedelta(seconds=settings.heartbeat_timeout)
    token = secrets.token_hex(8)
    result = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(Job.status == "queued", (Job.status == "running") & (Job.heartbeat_at < stale)),
        )
        .values(
            status="running",
            run_token=token,
            worker=worker,
            heartbeat_at=now,
            attempts=Job.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.started_at.is_(None))
        .values(started_at=now)
        .execution_options(synchronize_session=False)
    )
    return token


def beat(session: Session, job_id: str, token: str, progress: dict[str, Any] | None) -> bool | None:
    """Heartbeat for a running job; returns whether cancel was asked, None if the run lost it."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.run_token == token, Job.status == "running")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def finish(session: Session, job_id: str, token: str, **values: Any) -> bool:
    """End a run: status and result fields, only if this run still owns the job."""
    values.setdefault("finished_at", utcnow())
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.run_token == token, Job.status == "running")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


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


def mark_enqueued(session: Session, job_id: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(enqueued_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def send(requeue: Any, job_id: str, queue: str) -> bool:
    """Hand a queued job to the queue and note that it left; False if the broker failed
    (the job stays un-enqueued and the next reaper pass tries again)."""
    try:
        requeue(job_id, queue)
    except Exception:  # noqa: BLE001 - the broker may be down; retried on the next pass
        log.exception("job %s: could not enqueue; will retry", job_id)
        return False
    with session_scope() as session:
        mark_enqueued(session, job_id)
    return True


def resend_unsent(settings: Settings, requeue: Any) -> list[str]:
    """Queued jobs whose message never reached the queue (the broker failed, or the process
    died between the commit and the send), older than a grace period: send them."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    with session_scope() as session:
        unsent = list(
            session.execute(
                select(Job.id, Job.queue)
                .where(Job.status == "queued", Job.enqueued_at.is_(None), Job.created_at < cutoff)
                .limit(100)
            )
        )
    return [job_id for job_id, queue in unsent if send(requeue, job_id, queue)]


def reap_stale(settings: Settings, requeue: Any) -> list[str]:
    """Running jobs whose worker stopped beating: requeue them (they resume from their newest
    checkpoint) or, past ``max_attempts``, fail them. ``requeue(job_id, queue)`` enqueues."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    touched: list[str] = []
    with session_scope() as session:
        stale = list(
            session.execute(
                select(Job.id, Job.attempts, Job.cancel_requested, Job.queue, Job.heartbeat_at)
                .where(Job.status == "running", Job.heartbeat_at < cutoff)
                .limit(100)
            )
        )
    for job_id, attempts, cancel, queue, seen in stale:
        with session_scope() as session:
            values: dict[str, Any]
            if cancel:
                values = {"status": "cancelled", "finished_at": utcnow()}
            elif attempts >= settings.max_attempts:
                values = {
                    "status": "failed",
                    "finished_at": utcnow(),
                    "error": {
                        "type": "worker_lost",
                        "message": (
                            f"the worker running this job stopped responding {attempts} times; "
                            "check the workers' logs and memory, then submit the job again"
                        ),
                    },
                }
            else:
                values = {"status": "queued", "run_token": None, "enqueued_at": None}
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.heartbeat_at == seen)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            won = result.rowcount == 1  # type: ignore[attr-defined]
        if won:
            touched.append(job_id)
            log.warning("job %s: worker silent since %s -> %s", job_id, seen, values["status"])
            if values["status"] == "queued":
                send(requeue, job_id, queue)
    return touched


def newest_checkpoint(session: Session, job_id: str) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.job_id == job_id, Checkpoint.kind != "final")
        .order_by(Checkpoint.step.desc(), Checkpoint.created_at.desc())
        .limit(1)
    )

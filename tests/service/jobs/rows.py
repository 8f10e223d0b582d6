"""Rows for the jobs domain's tests, written straight to the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from service import db
from service.auth.keys import create_key
from service.db import session_scope, utcnow
from service.jobs.tables import Job, JobStatus


def make_job(created_ago: float = 0, status: JobStatus = JobStatus.QUEUED) -> str:
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


def get_job(job_id: str) -> Job:
    with session_scope() as session:
        return session.scalars(select(Job).where(Job.id == job_id)).one()

"""Celery tasks. They take ids and re-read rows; running one twice for a job is harmless."""

from __future__ import annotations

from service.queue import RUN_JOB_TASK
from workers.app import app
from workers.runner import run_job


@app.task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job_task(job_id: str) -> None:
    run_job(job_id)

"""/v1/jobs: submit, list, inspect, cancel; metric points and checkpoints."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlengine import DatasetProfile, JobSpec, SpecError, check_against_dataset, validate_spec
from mlengine.types import ColumnProfile
from service.auth.keys import OwnerDep
from service.auth.tables import Owner
from service.blobs import read_blob
from service.datasets.tables import Dataset
from service.db import SessionDep, new_id, utcnow
from service.errors import Conflict, NotFound, Unavailable, Unprocessable
from service.jobs.schemas import CheckpointOut, JobOut, JobStatus, MetricPointOut
from service.jobs.store import get_owned_job, mark_enqueued
from service.jobs.tables import ACTIVE_STATUSES, Checkpoint, Job, MetricPoint
from service.pagination import CursorQuery, LimitQuery, Page, paginate
from service.queue import enqueue_job, queue_for
from service.settings import get_settings

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = logging.getLogger("descent.jobs")

SPEC_EXAMPLES = {
    "mlp": {
        "summary": "An MLP classifier on an uploaded dataset",
        "value": {
            "dataset_id": "ds_...",
            "target": "label",
            "model": {"type": "mlp", "params": {"hidden_layers": [64, 32]}},
            "training": {"epochs": 20, "batch_size": 64, "optimizer": "adam"},
            "split": {"validation": 0.2, "test": 0.2},
            "seed": 0,
        },
    },
    "logistic": {
        "summary": "Logistic regression",
        "value": {
            "dataset_id": "ds_...",
            "target": "label",
            "model": {"type": "logistic_regression"},
        },
    },
}


def _spec_error(exc: SpecError) -> Unprocessable:
    return Unprocessable(
        [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors],
    )


def _profile(dataset: Dataset) -> DatasetProfile:
    return DatasetProfile(
        n_rows=dataset.n_rows,
        columns=[ColumnProfile(**c) for c in dataset.columns],
        sample_shape=dataset.sample_shape,
    )


def _validated(session: Session, owner: Owner, raw: dict[str, Any]) -> tuple[JobSpec, str | None]:
    limits = get_settings().limits
    try:
        spec = validate_spec(raw, limits)
        dataset = None
        if spec.dataset_id is not None:
            dataset = session.scalar(
                select(Dataset).where(Dataset.id == spec.dataset_id, Dataset.owner_id == owner.id)
            )
            if dataset is None:
                raise SpecError.at(
                    ("dataset_id",),
                    f"dataset '{spec.dataset_id}' not found; list yours with GET /v1/datasets",
                )
        spec = check_against_dataset(spec, _profile(dataset) if dataset else None, limits)
        if spec.init_from is not None:
            _check_init_from(session, owner, spec)
    except SpecError as exc:
        raise _spec_error(exc) from None
    return spec, dataset.id if dataset else None


def _check_init_from(session: Session, owner: Owner, spec: JobSpec) -> None:
    """Transfer learning starts from a succeeded job of the same owner and model type."""
    assert spec.init_from is not None
    source_id = spec.init_from.job_id
    source = session.scalar(select(Job).where(Job.id == source_id, Job.owner_id == owner.id))
    loc = ("init_from", "job_id")
    if source is None:
        raise SpecError.at(loc, f"job '{source_id}' not found; list yours with GET /v1/jobs")
    if source.status != "succeeded" or source.model_id is None:
        raise SpecError.at(
            loc,
            f"job '{source_id}' is {source.status}; transfer learning starts from a job "
            "that succeeded",
        )
    source_type = source.spec["model"]["type"]
    if source_type != spec.model.type:
        raise SpecError.at(
            loc,
            f"job '{source_id}' trained a {source_type}; this job trains a {spec.model.type}. "
            "Start from a job of the same model type",
        )


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    summary="Submit a training job",
    description=(
        "Validates the spec against the model kind and the dataset, saves it with every "
        "default filled in, and queues it. The same `Idempotency-Key` header twice gives "
        "the same job back."
    ),
)
def create_job(
    session: SessionDep,
    owner: OwnerDep,
    spec_in: Annotated[JobSpec, Body(openapi_examples=SPEC_EXAMPLES)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobOut:
    if idempotency_key:
        existing = session.scalar(
            select(Job).where(Job.owner_id == owner.id, Job.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return JobOut.model_validate(existing)
    spec, dataset_id = _validated(
        session, owner, spec_in.model_dump(mode="json", exclude_unset=True)
    )
    settings = get_settings()
    job = Job(
        id=new_id("job"),
        owner_id=owner.id,
        dataset_id=dataset_id,
        idempotency_key=idempotency_key,
        status="queued",
        spec=spec.model_dump(mode="json"),
        queue=queue_for(spec.device, settings),
        progress={"fraction": 0.0},
        metrics={},
    )
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.scalar(
            select(Job).where(Job.owner_id == owner.id, Job.idempotency_key == idempotency_key)
        )
        if existing is None:
            raise
        return JobOut.model_validate(existing)
    try:
        enqueue_job(job.id, job.queue)
    except Exception as exc:
        log.exception("could not enqueue job %s", job.id)
        session.delete(job)
        session.commit()
        raise Unavailable(
            f"the job queue (broker) did not answer ({type(exc).__name__}); nothing was "
            "saved; try again once GET /readyz answers 200"
        ) from None
    mark_enqueued(session, job.id)
    return JobOut.model_validate(job)


@router.get("", response_model=Page[JobOut], summary="List your jobs, newest first")
def list_jobs(
    session: SessionDep,
    owner: OwnerDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[JobOut]:
    stmt = select(Job).where(Job.owner_id == owner.id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    rows, next_cursor = paginate(session, stmt, [Job.created_at, Job.id], limit, cursor)
    return Page(items=[JobOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobOut, summary="One job")
def get_job(job_id: str, session: SessionDep, owner: OwnerDep) -> JobOut:
    return JobOut.model_validate(get_owned_job(session, owner, job_id))


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    response_model=JobOut,
    summary="Cancel a job",
    description=(
        "A queued job never starts; a running one stops at its next batch or episode and "
        "ends `cancelled`. An ended job: 409."
    ),
)
def cancel_job(job_id: str, session: SessionDep, owner: OwnerDep) -> JobOut:
    job = get_owned_job(session, owner, job_id)
    session.refresh(job, with_for_update=session.bind.dialect.name != "sqlite")  # type: ignore[union-attr]
    if job.status not in ACTIVE_STATUSES:
        raise Conflict(
            f"job '{job_id}' has already ended ({job.status}); there is nothing to cancel"
        )
    job.cancel_requested = True
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
    session.flush()
    return JobOut.model_validate(job)


@router.get(
    "/{job_id}/metrics",
    response_model=Page[MetricPointOut],
    summary="Metric points (per-epoch or per-episode curves), ordered by step",
)
def job_metrics(
    job_id: str,
    session: SessionDep,
    owner: OwnerDep,
    name: Annotated[str | None, Query(description="Only points of this metric.")] = None,
    after_step: Annotated[int | None, Query(description="Only points after this step.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[MetricPointOut]:
    job = get_owned_job(session, owner, job_id)
    stmt = select(MetricPoint).where(MetricPoint.job_id == job.id)
    if name is not None:
        stmt = stmt.where(MetricPoint.name == name)
    if after_step is not None:
        stmt = stmt.where(MetricPoint.step > after_step)
    rows, next_cursor = paginate(
        session, stmt, [MetricPoint.step, MetricPoint.name], limit, cursor, descending=False
    )
    return Page(items=[MetricPointOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{job_id}/checkpoints", response_model=Page[CheckpointOut], summary="Checkpoints of a job"
)
def job_checkpoints(
    job_id: str,
    session: SessionDep,
    owner: OwnerDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CheckpointOut]:
    job = get_owned_job(session, owner, job_id)
    stmt = select(Checkpoint).where(Checkpoint.job_id == job.id)
    rows, next_cursor = paginate(
        session, stmt, [Checkpoint.step, Checkpoint.id], limit, cursor, descending=False
    )
    return Page(items=[CheckpointOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{job_id}/checkpoints/{checkpoint_id}/data",
    response_class=Response,
    summary="Download a checkpoint's bytes (safetensors or skops)",
)
def checkpoint_data(
    job_id: str, checkpoint_id: str, session: SessionDep, owner: OwnerDep
) -> Response:
    job = get_owned_job(session, owner, job_id)
    ckpt = session.scalar(
        select(Checkpoint).where(Checkpoint.id == checkpoint_id, Checkpoint.job_id == job.id)
    )
    if ckpt is None:
        raise NotFound(f"checkpoint '{checkpoint_id}' not found in job '{job_id}'")
    return Response(read_blob(session, ckpt.blob_id), media_type="application/octet-stream")

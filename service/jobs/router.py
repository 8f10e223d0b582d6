"""/v1/jobs: submit, list, inspect, cancel; metric points and checkpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response

from mlengine.spec import JobSpec
from service.auth.keys import OwnerDep
from service.blobs import read_blob
from service.db import SessionDep
from service.errors import NotFound
from service.jobs import repository as repo
from service.jobs import service as jobs
from service.jobs.schemas import CheckpointOut, JobOut, MetricPointOut
from service.jobs.tables import Checkpoint, Job, JobStatus, MetricPoint
from service.pagination import CursorQuery, LimitQuery, Page, paginate

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

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
    job = jobs.submit(
        session, owner, spec_in.model_dump(mode="json", exclude_unset=True), idempotency_key
    )
    return JobOut.model_validate(job)


@router.get("", response_model=Page[JobOut], summary="List your jobs, newest first")
def list_jobs(
    session: SessionDep,
    owner: OwnerDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[JobOut]:
    stmt = repo.jobs_query(owner.id, status)
    rows, next_cursor = paginate(session, stmt, [Job.created_at, Job.id], limit, cursor)
    return Page(items=[JobOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobOut, summary="One job")
def get_job(job_id: str, session: SessionDep, owner: OwnerDep) -> JobOut:
    return JobOut.model_validate(repo.get_owned_job(session, owner, job_id))


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
    return JobOut.model_validate(jobs.cancel(session, owner, job_id))


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
    after_step: Annotated[
        int | None,
        Query(ge=-(2**63), le=2**63 - 1, description="Only points after this step."),
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[MetricPointOut]:
    job = repo.get_owned_job(session, owner, job_id)
    stmt = repo.points_query(job.id, name, after_step)
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
    job = repo.get_owned_job(session, owner, job_id)
    stmt = repo.checkpoints_query(job.id)
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
    job = repo.get_owned_job(session, owner, job_id)
    ckpt = repo.get_checkpoint(session, job.id, checkpoint_id)
    if ckpt is None:
        shown = checkpoint_id if len(checkpoint_id) <= 64 else f"{checkpoint_id[:60]}..."
        raise NotFound(f"checkpoint '{shown}' not found in job '{job.id}'")
    return Response(read_blob(session, ckpt.blob_id), media_type="application/octet-stream")

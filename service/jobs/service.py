"""The job's lifecycle, in one place: submit, cancel, a run's claim, heartbeat, writes and
end, and the reaper's sweeps. The routes, the worker and the reaper call these; the SQL is
in ``repository``.

::

    submit -> queued -> (claim) running -> succeeded | failed | cancelled
                ^                 |
                +---- requeue ----+   (the worker went silent; past max_attempts: failed)
    queued -> cancelled               (cancel before it starts)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlengine import DatasetProfile, SpecError, TrainingError
from mlengine.spec import JobSpec
from mlengine.types import ColumnProfile, json_safe
from mlengine.validation import check_against_dataset, validate_spec
from service.auth.tables import Owner
from service.blobs import read_blob
from service.datasets.ingest import from_parquet_bytes
from service.datasets.tables import Dataset
from service.db import find_owned, session_scope, utcnow
from service.errors import Conflict, Unavailable
from service.jobs import repository as repo
from service.jobs.tables import Job, JobStatus
from service.queue import enqueue_job, queue_for, waiting_jobs
from service.settings import Settings, get_settings

if TYPE_CHECKING:
    import pyarrow as pa

    from mlengine.types import TrainResult

log = logging.getLogger("descent.jobs")

# How a job is handed to the queue: ``send(job_id, queue)``; raises if the broker fails.
Send = Callable[[str, str], None]


# -- submit and cancel (the API's request session) --


def _profile(dataset: Dataset) -> DatasetProfile:
    return DatasetProfile(
        n_rows=dataset.n_rows,
        columns=[ColumnProfile(**c) for c in dataset.columns],
        sample_shape=dataset.sample_shape,
    )


def _check_init_from(session: Session, owner: Owner, spec: JobSpec) -> None:
    """Transfer learning starts from a succeeded job of the same owner and model type."""
    assert spec.init_from is not None
    source_id = spec.init_from.job_id
    source = repo.find_owned_job(session, owner.id, source_id)
    loc = ("init_from", "job_id")
    if source is None:
        raise SpecError.at(loc, f"job '{source_id}' not found; list yours with GET /v1/jobs")
    if source.status != JobStatus.SUCCEEDED or source.model_id is None:
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


def validated(session: Session, owner: Owner, raw: dict[str, Any]) -> tuple[JobSpec, str | None]:
    """The spec with every default filled in, checked against its dataset and source job;
    ``SpecError`` names what does not fit."""
    limits = get_settings().limits
    spec = validate_spec(raw, limits)
    dataset = None
    if spec.dataset_id is not None:
        dataset = find_owned(session, Dataset, owner.id, spec.dataset_id)
        if dataset is None:
            raise SpecError.at(
                ("dataset_id",),
                f"dataset '{spec.dataset_id}' not found; list yours with GET /v1/datasets",
            )
    spec = check_against_dataset(spec, _profile(dataset) if dataset else None, limits)
    if spec.init_from is not None:
        _check_init_from(session, owner, spec)
    return spec, dataset.id if dataset else None


def submit(
    session: Session,
    owner: Owner,
    raw: dict[str, Any],
    idempotency_key: str | None,
    send: Send = enqueue_job,
) -> Job:
    """Validate, commit, send to the queue, note that it was sent. The same idempotency key
    gives the first job back; a broker that fails leaves nothing saved (503)."""
    spec, dataset_id = validated(session, owner, raw)
    saved = spec.model_dump(mode="json")
    if idempotency_key:
        existing = repo.by_idempotency_key(session, owner.id, idempotency_key)
        if existing is not None:
            return _same_request(existing, saved, idempotency_key)
    job = repo.add_job(
        session,
        owner_id=owner.id,
        dataset_id=dataset_id,
        idempotency_key=idempotency_key,
        spec=saved,
        queue=queue_for(spec.device, get_settings()),
        progress={"fraction": 0.0},
        metrics={},
    )
    try:
        session.commit()
    except IntegrityError:
        # Another request with the same key committed first.
        session.rollback()
        existing = (
            repo.by_idempotency_key(session, owner.id, idempotency_key) if idempotency_key else None
        )
        if existing is None:
            raise
        return _same_request(existing, saved, idempotency_key)
    try:
        send(job.id, job.queue)
    except Exception as exc:
        log.exception("could not enqueue job %s", job.id)
        repo.delete_job(session, job)
        session.commit()
        raise Unavailable(
            f"the job queue (broker) did not answer ({type(exc).__name__}); nothing was "
            "saved; try again once GET /readyz answers 200"
        ) from None
    repo.mark_enqueued(session, job.id)
    return job


def _same_request(existing: Job, spec: dict[str, Any], key: str | None) -> Job:
    """The job a repeated ``Idempotency-Key`` made, if the spec is the same (409 if not)."""
    if existing.spec != spec:
        raise Conflict(
            f"Idempotency-Key '{key}' was already used for job '{existing.id}' with another "
            "spec; send a new key for a new job, or the same spec to get that job back"
        )
    return existing


def cancel(session: Session, owner: Owner, job_id: str) -> Job:
    """A queued job ends ``cancelled`` now; a running one is asked to stop; an ended: 409."""
    job = repo.get_owned_job(session, owner, job_id)
    if not repo.request_cancel(session, job):
        raise Conflict(
            f"job '{job_id}' has already ended ({job.status}); there is nothing to cancel"
        )
    return job


# -- a run (the worker; each step in its own transaction) --


@dataclass(frozen=True)
class Run:
    """One run of a job: the token says which run owns the job now."""

    job_id: str
    token: str


@dataclass
class RunInputs:
    spec: JobSpec
    table: pa.Table | None
    resume: bytes | None  # the newest checkpoint, when this is a resumed run
    init_from: bytes | None  # the source model, for transfer learning


def start_run(job_id: str, worker: str) -> Run | None:
    """Claim a queued job (or one whose worker went silent); None if it is not claimable
    (already taken, ended or cancelled: a duplicate message is harmless)."""
    settings = get_settings()
    stale = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    with session_scope() as session:
        token = repo.claim(session, job_id, worker, stale)
    return Run(job_id, token) if token else None


def load_inputs(run: Run) -> RunInputs:
    """What the engine needs: the saved spec, the data, the checkpoint to resume from and
    the source model. What a previous run wrote after that checkpoint is forgotten."""
    with session_scope() as session:
        job = session.get_one(Job, run.job_id)
        spec = JobSpec.model_validate(job.spec)
        resume: bytes | None = None
        ckpt = repo.newest_checkpoint(session, job.id) if job.attempts > 1 else None
        if ckpt is not None:
            resume = read_blob(session, ckpt.blob_id)
            log.info("job %s: resuming from checkpoint at step %s", job.id, ckpt.step)
        repo.reset_after(session, job.id, ckpt.step if ckpt else None)
        table = None
        if spec.dataset_id is not None:
            dataset = (
                find_owned(session, Dataset, job.owner_id, job.dataset_id)
                if job.dataset_id
                else None
            )
            if dataset is None:
                raise TrainingError(
                    "dataset_missing",
                    f"dataset '{spec.dataset_id}' was deleted before the job ran; upload it again",
                )
            table = from_parquet_bytes(read_blob(session, dataset.blob_id))
        init_from = None
        if spec.init_from is not None:
            source = repo.source_model(session, job.owner_id, spec.init_from.job_id)
            if source is None:
                raise TrainingError(
                    "init_from",
                    f"the model of job '{spec.init_from.job_id}' is gone; submit without "
                    "init_from or start from another job",
                )
            init_from = read_blob(session, source.blob_id)
    return RunInputs(spec, table, resume, init_from)


def still_owned(run: Run) -> bool:
    """Whether this run still owns the job (another run takes over a silent one)."""
    with session_scope() as session:
        return repo.run_token(session, run.job_id) == run.token


def heartbeat(run: Run, progress: dict[str, Any] | None) -> bool | None:
    """Beat; returns whether cancel was asked, None if the run lost the job."""
    with session_scope() as session:
        return repo.beat(session, run.job_id, run.token, progress)


def record_points(run: Run, rows: list[dict[str, Any]]) -> bool:
    """Write metric points, unless the run lost the job; returns whether it still owns it."""
    with session_scope() as session:
        if repo.run_token(session, run.job_id) != run.token:
            return False
        repo.insert_points(session, rows)
    return True


def record_checkpoint(run: Run, step: int, kind: str, data: bytes) -> bool:
    """Store a checkpoint, unless the run lost the job; returns whether it still owns it."""
    with session_scope() as session:
        if repo.run_token(session, run.job_id) != run.token:
            return False
        repo.add_checkpoint(session, run.job_id, step, kind, data)
    return True


def succeed(run: Run, result: TrainResult, progress: dict[str, Any]) -> bool:
    """The model, the final metrics and ``succeeded``, in one transaction; False (nothing
    written) if another run owns the job now. A model left by an earlier run is reused."""
    metrics = json_safe(result.metrics)
    with session_scope() as session:
        model = repo.model_of(session, run.job_id)
        if model is None:
            model = repo.add_model(
                session,
                session.get_one(Job, run.job_id),
                result.artifact,
                task=result.info.task,
                model_type=result.info.model_type,
                inputs=result.info.inputs,
                classes=result.info.classes,
                info=json_safe(result.info.extra),
                metrics=metrics,
            )
        won = repo.finish(
            session,
            run.job_id,
            run.token,
            JobStatus.SUCCEEDED,
            metrics=metrics,
            model_id=model.id,
            diagnosis=json_safe(result.extra.get("diagnosis")),
            progress={**progress, "fraction": 1.0},
        )
        if not won:
            session.rollback()
            log.warning("job %s: another run owns the job now; result not written", run.job_id)
            return False
    log.info("job %s: succeeded", run.job_id)
    return True


def end(run: Run, status: JobStatus, error: dict[str, str] | None = None) -> bool:
    """End a run ``failed`` or ``cancelled``; False if another run owns the job now."""
    with session_scope() as session:
        won = repo.finish(session, run.job_id, run.token, status, error=error)
    log.info("job %s: %s", run.job_id, status)
    return won


# -- the reaper's sweeps --


def send_queued(send: Send, job_id: str, queue: str) -> bool:
    """Hand a queued job to the queue and note that it left; False if the broker failed
    (the job stays un-enqueued and the next reaper pass tries again)."""
    try:
        send(job_id, queue)
    except Exception:  # noqa: BLE001 - the broker may be down; retried on the next pass
        log.exception("job %s: could not enqueue; will retry", job_id)
        return False
    with session_scope() as session:
        repo.mark_enqueued(session, job_id)
    return True


def resend_unsent(settings: Settings, send: Send) -> list[str]:
    """Queued jobs whose message never reached the queue (the broker failed, or the process
    died between the commit and the send), older than a grace period: send them."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    with session_scope() as session:
        unsent = repo.unsent_queued(session, cutoff)
    return [job_id for job_id, queue in unsent if send_queued(send, job_id, queue)]


def resend_lost(
    settings: Settings, send: Send, waiting: Callable[[str], set[str]] = waiting_jobs
) -> list[str]:
    """Queued jobs sent longer ago than a grace period whose message no longer waits in the
    queue (the broker restarted empty, or a worker took it and died before claiming the
    job): send them again; claiming is exclusive, so a duplicate is harmless. A job whose
    message was lost ``max_attempts`` times fails, naming why. ``waiting(queue)`` lists the
    jobs whose message waits there; it raises when the broker does not answer."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    with session_scope() as session:
        sent = repo.sent_queued(session, cutoff)
    if not sent:
        return []
    in_queue = {queue: waiting(queue) for queue in {row.queue for row in sent}}
    touched: list[str] = []
    for job_id, queue, enqueued_at, sends in sent:
        if job_id in in_queue[queue]:
            continue
        values: dict[str, Any]
        if sends >= settings.max_attempts:
            values = {
                "status": JobStatus.FAILED,
                "finished_at": utcnow(),
                "error": {
                    "type": "message_lost",
                    "message": (
                        f"the job was sent to queue '{queue}' {sends} times and each message "
                        "was lost before a worker started it (a broker that restarts empty, "
                        "or workers that die on taking it); check the broker and the "
                        "workers' logs, then submit the job again"
                    ),
                },
            }
        else:
            values = {"enqueued_at": None}
        with session_scope() as session:
            won = repo.end_lost(session, job_id, enqueued_at, **values)
        if not won:
            continue  # claimed or sent again meanwhile
        touched.append(job_id)
        log.warning(
            "job %s: its message to '%s' is lost; %s",
            job_id,
            queue,
            "failed" if "status" in values else "sending it again",
        )
        if "status" not in values:
            send_queued(send, job_id, queue)
    return touched


def _after_silence(attempts: int, cancel: bool, settings: Settings) -> dict[str, Any]:
    """What becomes of a running job whose worker went silent."""
    if cancel:
        return {"status": JobStatus.CANCELLED, "finished_at": utcnow()}
    if attempts >= settings.max_attempts:
        return {
            "status": JobStatus.FAILED,
            "finished_at": utcnow(),
            "error": {
                "type": "worker_lost",
                "message": (
                    f"the worker running this job stopped responding {attempts} times; "
                    "check the workers' logs and memory, then submit the job again"
                ),
            },
        }
    return {"status": JobStatus.QUEUED, "run_token": None, "enqueued_at": None}


def reap_stale(settings: Settings, send: Send) -> list[str]:
    """Running jobs whose worker stopped beating: requeue them (they resume from their newest
    checkpoint) or, past ``max_attempts``, fail them."""
    cutoff = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
    touched: list[str] = []
    with session_scope() as session:
        stale = repo.stale_running(session, cutoff)
    for job_id, attempts, cancel, queue, seen in stale:
        values = _after_silence(attempts, cancel, settings)
        with session_scope() as session:
            won = repo.end_stale(session, job_id, seen, **values)
        if won:
            touched.append(job_id)
            log.warning("job %s: worker silent since %s -> %s", job_id, seen, values["status"])
            if values["status"] == JobStatus.QUEUED:
                send_queued(send, job_id, queue)
    return touched

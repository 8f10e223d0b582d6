"""Run one job: claim it, load its data, train on the engine, write the result.

The training thread never touches the database: metric points are buffered and a side
thread writes them in batches, beats the job's heartbeat and reads the cancel flag,
which ``should_stop`` then answers from memory.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mlengine import Callbacks, SpecError, TrainingError, TrainingStopped
from mlengine.callbacks import CheckpointKind
from mlengine.spec import JobSpec
from mlengine.train import train
from mlengine.types import json_safe
from service.blobs import put_blob, read_blob
from service.datasets.ingest import from_parquet_bytes
from service.datasets.tables import Dataset
from service.db import new_id, session_scope, utcnow
from service.jobs.store import beat, claim, finish, newest_checkpoint, reset_after
from service.jobs.tables import Checkpoint, Job, MetricPoint
from service.models.tables import Model
from service.settings import Settings, get_settings

log = logging.getLogger("descent.worker")


def _insert_points(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(MetricPoint).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(MetricPoint).on_conflict_do_nothing()
    else:
        stmt = insert(MetricPoint)
    session.execute(stmt, rows)


class JobCallbacks(Callbacks):
    def __init__(self, job_id: str, token: str, settings: Settings):
        self.job_id = job_id
        self.token = token
        self.settings = settings
        self._lock = threading.Lock()
        self._points: list[dict[str, Any]] = []
        self._progress: dict[str, Any] | None = None
        self.last_progress: dict[str, Any] = {}
        self._stop = threading.Event()
        self._lost = False
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"job-{job_id}", daemon=True)

    # -- engine side (training thread): memory only, except checkpoints --
    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        now = utcnow()
        with self._lock:
            self._points.extend(
                {
                    "job_id": self.job_id,
                    "name": n,
                    "step": int(step),
                    "value": float(v),
                    "time": now,
                }
                for n, v in values.items()
                if v is not None and math.isfinite(float(v))
            )

    def on_progress(self, done: int, total: int, unit: str = "epoch") -> None:
        # e.g. {"fraction": 0.4, "epoch": 12, "epochs": 30} or {..., "timestep", "timesteps"}
        progress = {
            "fraction": round(done / total, 4) if total else 0.0,
            unit: int(done),
            f"{unit}s": int(total),
        }
        with self._lock:
            self._progress = self.last_progress = progress

    def on_checkpoint(self, step: int, kind: CheckpointKind, data: bytes) -> None:
        self.flush()
        with session_scope() as session:
            if not self._still_owned(session):
                return
            blob = put_blob(session, data)
            session.add(
                Checkpoint(
                    id=new_id("ckpt"),
                    job_id=self.job_id,
                    step=int(step),
                    kind=kind,
                    size_bytes=blob.size_bytes,
                    sha256=blob.sha256,
                    blob_id=blob.id,
                )
            )

    def should_stop(self) -> bool:
        return self._stop.is_set()

    # -- side thread --
    def start(self) -> None:
        self._thread.start()

    def _still_owned(self, session: Session) -> bool:
        """Whether this run still owns the job; a run that lost it (its heartbeat went stale
        and another run took over) writes nothing more and stops."""
        if not self._lost:
            token = session.scalar(select(Job.run_token).where(Job.id == self.job_id))
            if token != self.token:
                self._lost = True
                self._stop.set()
        return not self._lost

    def flush(self) -> None:
        with self._lock:
            points, self._points = self._points, []
        if points:
            with session_scope() as session:
                if self._still_owned(session):
                    _insert_points(session, points)

    def _beat(self) -> None:
        with self._lock:
            progress, self._progress = self._progress, None
        with session_scope() as session:
            cancel = beat(session, self.job_id, self.token, progress)
        if cancel is None:
            self._lost = True
            self._stop.set()
        elif cancel:
            self._stop.set()

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while not self._closing.wait(0.5):
            try:
                if time.monotonic() - last_beat >= self.settings.heartbeat_interval:
                    self._beat()
                    last_beat = time.monotonic()
                self.flush()
            except Exception:  # noqa: BLE001 - a passing database error must not stop training
                log.exception("job %s: writing metrics/heartbeat failed; will retry", self.job_id)

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()

    @property
    def lost(self) -> bool:
        return self._lost


def _source_model(session: Session, job: Job, spec: JobSpec) -> bytes | None:
    """The model artifact a transfer-learning job starts from."""
    if spec.init_from is None:
        return None
    source = session.scalar(
        select(Model).where(Model.job_id == spec.init_from.job_id, Model.owner_id == job.owner_id)
    )
    if source is None:
        raise TrainingError(
            "init_from",
            f"the model of job '{spec.init_from.job_id}' is gone; submit without init_from "
            "or start from another job",
        )
    return read_blob(session, source.blob_id)


def _load(session: Session, job: Job) -> tuple[JobSpec, Any, bytes | None]:
    spec = JobSpec.model_validate(job.spec)
    resume: bytes | None = None
    ckpt = newest_checkpoint(session, job.id) if job.attempts > 1 else None
    if ckpt is not None:
        resume = read_blob(session, ckpt.blob_id)
        log.info("job %s: resuming from checkpoint at step %s", job.id, ckpt.step)
    reset_after(session, job.id, ckpt.step if ckpt else None)
    table = None
    if spec.dataset_id is not None:
        dataset = session.scalar(
            select(Dataset).where(Dataset.id == job.dataset_id, Dataset.owner_id == job.owner_id)
        )
        if dataset is None:
            raise TrainingError(
                "dataset_missing",
                f"dataset '{spec.dataset_id}' was deleted before the job ran; upload it again",
            )
        table = from_parquet_bytes(read_blob(session, dataset.blob_id))
    return spec, table, resume


def run_job(job_id: str) -> None:
    settings = get_settings()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with session_scope() as session:
        token = claim(session, job_id, worker, settings)
    if token is None:
        log.info("job %s: not queued (already taken, ended or cancelled); skipping", job_id)
        return
    log.info("job %s: running (run %s)", job_id, token)
    callbacks = JobCallbacks(job_id, token, settings)
    try:
        with session_scope() as session:
            job = session.get_one(Job, job_id)
            spec, table, resume = _load(session, job)
            init_from = _source_model(session, job, spec)
        callbacks.start()
        result = train(spec, table, callbacks, resume=resume, init_from=init_from)
    except TrainingStopped:
        callbacks.close()
        if callbacks.lost:
            log.warning("job %s: this run lost the job to another; stopping quietly", job_id)
            return
        _end(job_id, token, status="cancelled")
        return
    except TrainingError as exc:
        callbacks.close()
        _end(job_id, token, status="failed", error={"type": exc.type, "message": exc.message})
        return
    except SpecError as exc:
        # Checks that need the data itself (rare: the spec was checked against the
        # dataset's profile at submit).
        callbacks.close()
        _end(job_id, token, status="failed", error={"type": "spec", "message": str(exc)})
        return
    except Exception as exc:
        log.exception("job %s failed", job_id)
        callbacks.close()
        _end(
            job_id,
            token,
            status="failed",
            error={"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"},
        )
        return
    callbacks.close()
    metrics = json_safe(result.metrics)
    with session_scope() as session:
        model = session.scalar(select(Model).where(Model.job_id == job_id))
        if model is None:
            job = session.get_one(Job, job_id)
            blob = put_blob(session, result.artifact)
            model = Model(
                id=new_id("mdl"),
                owner_id=job.owner_id,
                job_id=job_id,
                task=result.info.task,
                model_type=result.info.model_type,
                inputs=result.info.inputs,
                classes=result.info.classes,
                info=json_safe(result.info.extra),
                metrics=metrics,
                blob_id=blob.id,
            )
            session.add(model)
            session.flush()
        progress = {**callbacks.last_progress, "fraction": 1.0}
        if not finish(
            session,
            job_id,
            token,
            status="succeeded",
            metrics=metrics,
            model_id=model.id,
            diagnosis=json_safe(result.extra.get("diagnosis")),
            progress=progress,
        ):
            session.rollback()
            log.warning("job %s: another run owns the job now; result not written", job_id)
            return
    log.info("job %s: succeeded", job_id)


def _end(job_id: str, token: str, **values: Any) -> None:
    with session_scope() as session:
        finish(session, job_id, token, **values)
    log.info("job %s: %s", job_id, values.get("status"))


__all__ = ["JobCallbacks", "run_job"]

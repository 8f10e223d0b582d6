"""Run one job on the engine: claim it, train, end it. The job's lifecycle (every status
change and every row written) is ``service.jobs.service``'s; this is the adapter.

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

from mlengine import Callbacks, SpecError, TrainingError, TrainingStopped
from mlengine.callbacks import CheckpointKind
from mlengine.train import train
from service.db import utcnow
from service.jobs import service as jobs
from service.jobs.tables import JobStatus
from service.settings import Settings, get_settings

log = logging.getLogger("descent.worker")


class JobCallbacks(Callbacks):
    def __init__(self, run: jobs.Run, settings: Settings):
        self.run = run
        self.settings = settings
        self._lock = threading.Lock()
        self._points: list[dict[str, Any]] = []
        self._progress: dict[str, Any] | None = None
        self.last_progress: dict[str, Any] = {}
        self._stop = threading.Event()
        self._lost = False
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"job-{run.job_id}", daemon=True)

    # -- engine side (training thread): memory only, except checkpoints --
    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        now = utcnow()
        with self._lock:
            self._points.extend(
                {
                    "job_id": self.run.job_id,
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
        if not self._lost and not jobs.record_checkpoint(self.run, int(step), kind, data):
            self._lose()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    # -- side thread --
    def start(self) -> None:
        self._thread.start()

    def _lose(self) -> None:
        """This run lost the job (its heartbeat went stale and another run took over): it
        writes nothing more and stops."""
        self._lost = True
        self._stop.set()

    def flush(self) -> None:
        with self._lock:
            points, self._points = self._points, []
        if points and not self._lost and not jobs.record_points(self.run, points):
            self._lose()

    def _beat(self) -> None:
        with self._lock:
            progress, self._progress = self._progress, None
        cancel = jobs.heartbeat(self.run, progress)
        if cancel is None:
            self._lose()
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
                log.exception(
                    "job %s: writing metrics/heartbeat failed; will retry", self.run.job_id
                )

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()

    @property
    def lost(self) -> bool:
        return self._lost


def job_error(exc: BaseException) -> tuple[JobStatus, dict[str, str] | None]:
    """How an engine exception ends a job."""
    if isinstance(exc, TrainingStopped):
        return JobStatus.CANCELLED, None
    if isinstance(exc, TrainingError):
        return JobStatus.FAILED, {"type": exc.type, "message": exc.message}
    if isinstance(exc, SpecError):
        # Checks that need the data itself (rare: the spec was checked against the
        # dataset's profile at submit).
        return JobStatus.FAILED, {"type": "spec", "message": str(exc)}
    return JobStatus.FAILED, {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}


def run_job(job_id: str) -> None:
    run = jobs.start_run(job_id, f"{socket.gethostname()}:{os.getpid()}")
    if run is None:
        log.info("job %s: not queued (already taken, ended or cancelled); skipping", job_id)
        return
    log.info("job %s: running (run %s)", job_id, run.token)
    callbacks = JobCallbacks(run, get_settings())
    failure: Exception | None = None
    try:
        inputs = jobs.load_inputs(run)
        callbacks.start()
        result = train(
            inputs.spec,
            inputs.table,
            callbacks,
            resume=inputs.resume,
            init_from=inputs.init_from,
        )
    except Exception as exc:  # noqa: BLE001 - every failure ends the job, below
        failure = exc
        if not isinstance(exc, TrainingStopped | TrainingError | SpecError):
            log.exception("job %s failed", job_id)
    finally:
        callbacks.close()
    if callbacks.lost:
        log.warning("job %s: this run lost the job to another; stopping quietly", job_id)
    elif failure is not None:
        jobs.end(run, *job_error(failure))
    else:
        jobs.succeed(run, result, callbacks.last_progress)


__all__ = ["JobCallbacks", "job_error", "run_job"]

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from service.jobs.tables import JobStatus


class JobError(BaseModel):
    type: str
    message: str


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: JobStatus
    spec: dict[str, Any]
    progress: dict[str, Any]
    metrics: dict[str, Any]
    diagnosis: dict[str, Any] | None = None
    model_id: str | None
    error: JobError | None
    dataset_id: str | None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class MetricPointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    step: int
    value: float
    time: datetime


class CheckpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    step: int
    kind: Literal["periodic", "best", "final"]
    size_bytes: int
    sha256: str
    created_at: datetime

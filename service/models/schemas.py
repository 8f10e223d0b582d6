from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ModelInput(BaseModel):
    name: str
    dtype: str


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    job_id: str
    task: str
    model_type: str
    inputs: list[ModelInput]
    classes: list[Any] | None
    info: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime


class PredictOut(BaseModel):
    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None
    extra: dict[str, Any] | None = None

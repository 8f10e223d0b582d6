"""What a kind's hooks receive: checks against a dataset, and a training run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlengine.callbacks import Callbacks
from mlengine.types import DatasetProfile, Limits

if TYPE_CHECKING:
    from mlengine.data import Prepared
    from mlengine.registry import ModelKind
    from mlengine.spec import JobSpec


@dataclass(frozen=True)
class DatasetCheck:
    """Given to ``ModelKind.check_dataset`` once target, features and task are known."""

    spec: JobSpec
    profile: DatasetProfile
    limits: Limits
    params: Any  # an instance of the kind's params class
    training: Any  # an instance of the kind's training class
    n_inputs: int  # estimated width of the preprocessed feature matrix (after one-hot)
    n_outputs: int  # 1 for regression and binary classification, else the class count


@dataclass
class TrainContext:
    """Everything a trainer needs. ``data`` is already split and preprocessed."""

    spec: JobSpec
    kind: ModelKind
    params: BaseModel
    training: BaseModel
    data: Prepared
    callbacks: Callbacks
    resume: bytes | None = None
    # Transfer learning: the source job's model artifact (torch kinds copy its weights).
    init_from: bytes | None = None

    @property
    def device(self) -> str:
        return self.spec.device

    @property
    def seed(self) -> int:
        return self.spec.seed

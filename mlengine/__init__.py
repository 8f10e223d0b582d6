"""Descent's ML engine: a pure library (no web, database or queue imports).

Public interface::

    spec = validate_spec(raw_dict, Limits())              # structure, model type, params
    spec = check_against_dataset(spec, profile, Limits())  # target/features/task/model size
    result = train(spec, table, callbacks)                 # -> TrainResult
    predictor = load_predictor(result.artifact)
    predictor.predict([{"col": 1.0, ...}])                 # -> {"predictions": [...], ...}

Importing ``mlengine`` imports neither torch nor scikit-learn: they are imported when a
model is trained or loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlengine.callbacks import Callbacks, RecordingCallbacks
from mlengine.errors import (
    ArtifactError,
    InputError,
    InputTooLarge,
    SpecError,
    TrainingError,
    TrainingStopped,
)
from mlengine.registry import ModelKind, get_kind, kind_names, kinds, register
from mlengine.spec import JobSpec
from mlengine.train import train  # light: heavy imports happen inside train()
from mlengine.types import ColumnProfile, DatasetProfile, Limits, ModelInfo, TrainResult
from mlengine.validation import check_against_dataset, validate_spec

if TYPE_CHECKING:
    from mlengine.predictor import Predictor


def load_predictor(artifact: bytes, device: str = "cpu") -> Predictor:
    """Load a model artifact; see ``mlengine.predict.load_predictor``."""
    from mlengine.predict import load_predictor as _load

    return _load(artifact, device)


def __getattr__(name: str) -> Any:
    if name == "Predictor":
        from mlengine.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'mlengine' has no attribute {name!r}")


__all__ = [
    "ArtifactError",
    "Callbacks",
    "ColumnProfile",
    "DatasetProfile",
    "InputError",
    "InputTooLarge",
    "JobSpec",
    "Limits",
    "ModelInfo",
    "ModelKind",
    "Predictor",
    "RecordingCallbacks",
    "SpecError",
    "TrainResult",
    "TrainingError",
    "TrainingStopped",
    "check_against_dataset",
    "get_kind",
    "kind_names",
    "kinds",
    "load_predictor",
    "register",
    "train",
    "validate_spec",
]

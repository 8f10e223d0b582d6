"""Descent's ML engine: a pure library (no web, database or queue imports).

Public interface::

    spec = validate_spec(raw_dict, Limits())              # structure, model type, params
    spec = check_against_dataset(spec, profile, Limits())  # target/features/task/model size
    result = train(spec, table, callbacks)                 # -> TrainResult
    predictor = load_predictor(result.artifact)
    predictor.predict([{"col": 1.0, ...}])                 # -> {"predictions": [...], ...}

Torch is imported only when a neural model is trained or loaded.
"""

from mlengine.callbacks import Callbacks, RecordingCallbacks
from mlengine.errors import InputError, SpecError, TrainingError, TrainingStopped
from mlengine.types import ColumnProfile, DatasetProfile, Limits, ModelInfo, TrainResult

__all__ = [
    "Callbacks",
    "ColumnProfile",
    "DatasetProfile",
    "InputError",
    "Limits",
    "ModelInfo",
    "RecordingCallbacks",
    "SpecError",
    "TrainResult",
    "TrainingError",
    "TrainingStopped",
]

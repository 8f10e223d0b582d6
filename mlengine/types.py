"""Plain data types shared by the engine and its callers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Dtype = Literal["int", "float", "bool", "string"]
Task = Literal["classification", "regression", "clustering", "decomposition", "reinforcement"]


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: Dtype
    n_missing: int
    n_unique: int


@dataclass(frozen=True)
class DatasetProfile:
    """What a spec is checked against before a job is queued (no data needed)."""

    n_rows: int
    columns: list[ColumnProfile]
    # For NPZ uploads whose X had more than 2 dimensions: the per-sample shape.
    sample_shape: list[int] | None = None

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Limits:
    """What a spec may ask for. Each is a service setting; exceeding one is a 422."""

    max_epochs: int = 10_000
    max_parameters: int = 50_000_000
    max_timesteps: int = 5_000_000
    max_layer_width: int = 16_384
    # Environments: a map's cells (FrozenLake's desc, a grid world) and each of its sides,
    # and a tabular method's table (states x actions).
    max_env_cells: int = 10_000
    max_env_side: int = 256
    max_table_entries: int = 1_000_000


@dataclass
class ModelInfo:
    """What the service shows of a trained model and checks predictions against."""

    task: str
    model_type: str
    inputs: list[dict[str, str]]  # [{"name": ..., "dtype": ...}] in training order
    classes: list[Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. observation/action spaces


@dataclass
class TrainResult:
    metrics: dict[str, float]
    artifact: bytes  # the whole model (preprocessing + weights) in a safe format
    info: ModelInfo
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"diagnosis": {...}}


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: such figures become null, however deep they sit."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value

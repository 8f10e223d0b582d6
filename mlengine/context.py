"""The contract between the engine and a model kind: what a kind declares (``ModelKind``)
and what its hooks receive (``DatasetCheck`` for its checks, ``TrainContext`` for a run).

The registry of kinds is ``mlengine.registry``; the kinds themselves live in
``mlengine/kinds/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from mlengine.callbacks import Callbacks
from mlengine.types import DatasetProfile, Limits

if TYPE_CHECKING:
    from mlengine.data import Prepared
    from mlengine.spec import JobSpec
    from mlengine.types import TrainResult

Framework = Literal["sklearn", "torch", "numpy"]


@dataclass(frozen=True)
class ModelKind:
    name: str
    tasks: frozenset[str]
    params: type[BaseModel]
    training: type[BaseModel]
    trainer: str  # "module:function" taking a TrainContext and returning a TrainResult
    framework: Framework = "sklearn"
    description: str = ""
    # What ``preprocessing.scaling: auto`` means for this kind (trees will say "none").
    auto_scaling: Literal["standard", "minmax", "robust", "none"] = "standard"
    # Kind-specific checks against the dataset (e.g. parameter count); raises SpecError.
    check_dataset: Callable[[DatasetCheck], None] | None = field(default=None, compare=False)
    # Defaults that depend on the rest of the spec (RL: on the environment): given the raw
    # spec, the (params, training) values to use where the spec leaves an option out.
    spec_defaults: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]] | None = field(
        default=None, compare=False
    )

    @property
    def supervised(self) -> bool:
        return bool(self.tasks & {"classification", "regression"})

    @property
    def takes_training_options(self) -> bool:
        return bool(self.training.model_fields)

    def load_trainer(self) -> Callable[[TrainContext], TrainResult]:
        module_name, _, func_name = self.trainer.partition(":")
        func: Callable[[TrainContext], TrainResult] = getattr(
            importlib.import_module(module_name), func_name
        )
        return func

    def describe(self) -> dict[str, Any]:
        """A JSON-able description for docs and ``GET`` endpoints."""
        return {
            "name": self.name,
            "tasks": sorted(self.tasks),
            "framework": self.framework,
            "description": self.description,
            "params": self.params.model_json_schema(),
            "training": self.training.model_json_schema(),
        }


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

"""Load a model artifact and predict from raw rows (as they were in the uploaded file)."""

from __future__ import annotations

import math
import numbers
from typing import Any, Protocol

import numpy as np

from mlengine.artifact import (
    MODEL_SAFETENSORS,
    MODEL_SKOPS,
    PREPROCESS,
    info_from_meta,
    read_artifact,
)
from mlengine.errors import ArtifactError, InputError
from mlengine.preprocess import frame_from_rows
from mlengine.safeio import skops_loads


class Backend(Protocol):
    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, n_classes) for classifiers, else values (n,)."""
        ...


class SklearnBackend:
    def __init__(self, estimator: Any, task: str, n_classes: int):
        self.estimator = estimator
        self.task = task
        self.n_classes = n_classes

    def outputs(self, X: np.ndarray) -> np.ndarray:
        from mlengine.classical import model_outputs

        return model_outputs(self.estimator, self.task, X, self.n_classes)


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)


def _fits(value: Any, dtype: str) -> bool:
    if value is None:
        return True
    if dtype == "float":
        return is_int(value) or (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool | np.bool_)
            and not math.isinf(value)
        )
    if dtype == "int":
        if is_int(value):
            return True
        return isinstance(value, float) and (math.isnan(value) or value.is_integer())
    if dtype == "bool":
        return isinstance(value, bool | np.bool_)
    return isinstance(value, str)


def _describe(value: Any) -> str:
    kind = {bool: "bool", str: "string", int: "int", float: "float"}.get(type(value))
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind or type(value).__name__} {text}"


class Predictor:
    """A loaded model: ``predict(rows)`` runs the model's own preprocessing, then the model."""

    def __init__(self, meta: dict[str, Any], preprocessor: Any, backend: Backend):
        self.meta = meta
        self.info = info_from_meta(meta)
        self.preprocessor = preprocessor
        self.backend = backend
        self._inputs: list[dict[str, str]] = [dict(c) for c in meta["inputs"]]
        self._names = [c["name"] for c in self._inputs]
        self._name_set = set(self._names)
        self._expected = ", ".join(f"{c['name']} ({c['dtype']})" for c in self._inputs)

    def columns_in_order(self) -> list[str]:
        """Feature names in training order (to turn list-form rows into dicts)."""
        return list(self._names)

    def validate(self, rows: list[dict[str, Any]]) -> None:
        """Raise ``InputError`` naming the row, the column and the expected inputs."""
        if not isinstance(rows, list):
            raise InputError(f"expected a list of rows; expected inputs: {self._expected}")
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise InputError(
                    f"row {i}: expected an object of column values; "
                    f"expected inputs: {self._expected}"
                )
            for col in self._inputs:
                name = col["name"]
                if name not in row:
                    raise InputError(
                        f"row {i}: column '{name}' is missing; expected inputs: {self._expected}"
                    )
                if not _fits(row[name], col["dtype"]):
                    raise InputError(
                        f"row {i}: column '{name}' expects {col['dtype']}, got "
                        f"{_describe(row[name])}; expected inputs: {self._expected}"
                    )
            if len(row) != len(self._names):
                extra = next(k for k in row if k not in self._name_set)
                raise InputError(
                    f"row {i}: unknown column '{extra}'; expected inputs: {self._expected}"
                )

    def predict_observations(self, observations: list[Any]) -> dict[str, Any]:
        """Policies (reinforcement learning) override this; a supervised model takes rows."""
        raise InputError(
            f"this {self.info.model_type} model takes rows, not observations; "
            f"send {{'records': [...]}} with: {self._expected}"
        )

    def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """``{"predictions": [...]}``, plus ``probabilities`` and ``classes`` for classifiers.

        Clustering models predict cluster ids (ints); decomposition models (PCA) one list
        of projected components per row.
        """
        self.validate(rows)
        classes = self.info.classes
        if not rows:
            empty: dict[str, Any] = {"predictions": []}
            if classes is not None:
                empty.update(probabilities=[], classes=list(classes))
            return empty
        X = np.asarray(
            self.preprocessor.transform(frame_from_rows(rows, self._inputs)), dtype=np.float64
        )
        out = self.backend.outputs(X)
        if self.info.task == "clustering":
            return {"predictions": [int(v) for v in out.reshape(-1)]}
        if self.info.task == "decomposition":
            return {"predictions": np.asarray(out, dtype=np.float64).tolist()}
        if classes is None:
            return {"predictions": [float(v) for v in out.reshape(-1)]}
        return {
            "predictions": [classes[i] for i in out.argmax(axis=1).tolist()],
            "probabilities": out.astype(np.float64).tolist(),
            "classes": list(classes),
        }


def load_predictor(artifact: bytes, device: str = "cpu") -> Predictor:
    """Rebuild a model from its artifact. Torch is imported only for torch models.

    ``device`` is where a torch network runs ("cpu" by default: predictions are small
    batches served from the API process; "cuda" if you want it there).
    """
    meta, files = read_artifact(artifact)
    if meta.get("task") == "reinforcement":  # a policy: observations in, actions out
        from mlengine.rl.policy import load_policy

        return load_policy(meta, files, device)
    if PREPROCESS not in files:
        raise ArtifactError("model artifact has no preprocessing")
    preprocessor = skops_loads(files[PREPROCESS])
    backend: Backend
    if meta.get("framework") == "torch":
        if MODEL_SAFETENSORS not in files or not meta.get("net"):
            raise ArtifactError("torch model artifact without weights or network config")
        from mlengine.nn.runtime import TorchBackend

        backend = TorchBackend(meta["net"], files[MODEL_SAFETENSORS], device)
    elif meta.get("framework") == "sklearn":
        if MODEL_SKOPS not in files:
            raise ArtifactError("scikit-learn model artifact without model.skops")
        classes = meta.get("classes")
        backend = SklearnBackend(
            skops_loads(files[MODEL_SKOPS]), meta["task"], len(classes) if classes else 0
        )
    else:
        raise ArtifactError(f"unknown model framework {meta.get('framework')!r}")
    return Predictor(meta, preprocessor, backend)

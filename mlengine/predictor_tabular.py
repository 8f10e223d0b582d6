"""A model of rows (supervised, clustering, decomposition): raw rows, as they were in the
uploaded file, in any accepted body form -> the model's own preprocessing -> the model."""

from __future__ import annotations

import math
import numbers
from typing import Any, Protocol

import numpy as np

from mlengine.artifact import MODEL_SAFETENSORS, MODEL_SKOPS, PREPROCESS, info_from_meta
from mlengine.errors import ArtifactError, InputError
from mlengine.predictor import Body, Predictor, check_not_too_many, check_row_count, is_int
from mlengine.preprocess import frame_from_rows
from mlengine.safeio import skops_loads
from mlengine.types import ModelInfo

BODY_KEYS = (
    "records",
    "dataframe_records",
    "dataframe_split",
    "instances",
    "inputs",
    "observations",
)


# ----------------------------------------------------------------------------- messages

# Error messages stay small however wide the model or odd the request: at most this many
# inputs are listed, and names and values from a request are cut to a few dozen characters.
MAX_LISTED_INPUTS = 10
MAX_NAME_CHARS = 60


def _name(name: Any) -> str:
    """A column name (the model's or a client's) as a message shows it."""
    text = name if isinstance(name, str) else repr(name)
    if len(text) > MAX_NAME_CHARS:
        text = f"{text[: MAX_NAME_CHARS - 3]}... ({len(text)} characters)"
    return text


def _listing(items: list[str], what: str = "inputs") -> str:
    """At most ``MAX_LISTED_INPUTS`` of ``items``, then how many more and where they are."""
    shown = ", ".join(items[:MAX_LISTED_INPUTS])
    rest = len(items) - MAX_LISTED_INPUTS
    if rest > 0:
        where = "; GET /v1/models/{id} lists them" if what != "keys" else ""
        shown += f", ... and {rest} more ({len(items)} {what}{where})"
    return shown


# ----------------------------------------------------------------------------- bodies


def body_form(body: dict[str, Any]) -> str:
    """The one body form a request uses (MLflow's ``params`` may ride along)."""
    present = [k for k in BODY_KEYS if k in body]
    if len(present) != 1 or set(body) - set(BODY_KEYS) - {"params"}:
        raise InputError(
            "send exactly one of: "
            + ", ".join(BODY_KEYS)
            + f"; got: {_listing([_name(k) for k in body], 'keys') or 'none'}"
        )
    return present[0]


def rows_from_body(
    body: dict[str, Any], columns: list[str], max_rows: int | None = None
) -> list[dict[str, Any]]:
    """Rows as dicts from any accepted body form (``columns``: the order of list-form rows);
    ``InputError`` naming what is wrong, ``InputTooLarge`` past ``max_rows``."""
    key = body_form(body)
    value = body[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise InputError("dataframe_split needs {'columns': [...], 'data': [[...], ...]}")
        split_cols = value.get("columns", columns)
        if not isinstance(split_cols, list) or not all(isinstance(c, str) for c in split_cols):
            raise InputError("dataframe_split.columns must be a list of column names (strings)")
        rows = value["data"]
        check_row_count(rows, max_rows)
        return [_row_from_list(r, i, split_cols) for i, r in enumerate(rows)]
    if key in ("inputs", "instances") and isinstance(value, dict):
        # Columnar form: {"col": [v1, v2, ...], ...}
        lengths = {len(v) for v in value.values() if isinstance(v, list)}
        if len(lengths) != 1 or not all(isinstance(v, list) for v in value.values()):
            raise InputError(f"{key} as columns needs lists of equal length for every column")
        n = lengths.pop()
        check_row_count(range(n), max_rows)
        return [{c: value[c][i] for c in value} for i in range(n)]
    if not isinstance(value, list):
        raise InputError(f"{key} must be a list of rows")
    check_row_count(value, max_rows)
    out = []
    for i, row in enumerate(value):
        if isinstance(row, dict):
            out.append(row)
        elif isinstance(row, list) and key in ("instances", "inputs"):
            out.append(_row_from_list(row, i, columns))
        else:
            raise InputError(f"row {i} of {key} must be an object mapping column names to values")
    return out


def _row_from_list(row: Any, i: int, columns: list[str]) -> dict[str, Any]:
    if not isinstance(row, list):
        raise InputError(f"row {i} must be a list of values")
    if len(row) != len(columns):
        raise InputError(
            f"row {i} has {len(row)} values; expected {len(columns)}, in this order: "
            + _listing([_name(c) for c in columns], "columns")
        )
    return dict(zip(columns, row, strict=True))


# ----------------------------------------------------------------------------- values


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


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _too_large(value: Any, dtype: str) -> bool:
    """An int a numeric column cannot hold: past a float's range (about 1.8e308), or, for an
    int column, past int64. Checked without converting (a 400-digit int overflows)."""
    if not is_int(value):
        return False
    v = int(value)
    if dtype == "int":
        return not INT64_MIN <= v <= INT64_MAX
    if dtype == "float":
        try:
            float(v)
        except OverflowError:
            return True
    return False


def _describe(value: Any) -> str:
    kind = {bool: "bool", str: "string", int: "int", float: "float"}.get(type(value))
    if is_int(value) and abs(int(value)) >= 10**40:
        # repr of a huge int is slow, and past 4300 digits it raises
        text = f"{int(value).bit_length()}-bit integer"
    else:
        text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind or type(value).__name__} {text}"


# ----------------------------------------------------------------------------- the model


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


class TabularPredictor(Predictor):
    """Runs the model's own preprocessing on raw rows, then the model."""

    def __init__(self, meta: dict[str, Any], preprocessor: Any, backend: Backend):
        self.meta = meta
        self._info = info_from_meta(meta)
        self.preprocessor = preprocessor
        self.backend = backend
        self._inputs: list[dict[str, str]] = [dict(c) for c in meta["inputs"]]
        self._names = [c["name"] for c in self._inputs]
        self._name_set = set(self._names)
        self._expected = _listing([f"{_name(c['name'])} ({c['dtype']})" for c in self._inputs])

    @property
    def info(self) -> ModelInfo:
        return self._info

    def columns_in_order(self) -> list[str]:
        """Feature names in training order (the order of list-form rows)."""
        return list(self._names)

    def rows(self, body: Body, max_rows: int | None = None) -> Any:
        """The rows of a request body, or the plain list itself (validated by ``validate``)."""
        if not isinstance(body, dict):
            if isinstance(body, list):
                check_not_too_many(body, max_rows)
            return body
        if body_form(body) == "observations":
            raise InputError(
                f"this {self.info.model_type} model takes rows, not observations; "
                f"send {{'records': [...]}} with: {self._expected}"
            )
        return rows_from_body(body, self._names, max_rows)

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
                        f"row {i}: column '{_name(name)}' is missing; "
                        f"expected inputs: {self._expected}"
                    )
                if _too_large(row[name], col["dtype"]):
                    what = "an int (int64)" if col["dtype"] == "int" else "a float"
                    raise InputError(
                        f"row {i}: column '{_name(name)}' value is too large for {what}; "
                        f"expected inputs: {self._expected}"
                    )
                if not _fits(row[name], col["dtype"]):
                    raise InputError(
                        f"row {i}: column '{_name(name)}' expects {col['dtype']}, got "
                        f"{_describe(row[name])}; expected inputs: {self._expected}"
                    )
            if len(row) != len(self._names):
                extra = next(k for k in row if k not in self._name_set)
                raise InputError(
                    f"row {i}: unknown column '{_name(extra)}'; expected inputs: {self._expected}"
                )

    def predict(self, body: Body, max_rows: int | None = None) -> dict[str, Any]:
        """``{"predictions": [...]}``, plus ``probabilities`` and ``classes`` for classifiers.

        Clustering models predict cluster ids (ints); decomposition models (PCA) one list
        of projected components per row. A plain list of no rows predicts nothing; a body
        must carry at least one.
        """
        rows = self.rows(body, max_rows)
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


def load_tabular(
    meta: dict[str, Any], files: dict[str, bytes], device: str = "cpu"
) -> TabularPredictor:
    """Rebuild a model of rows from its artifact's members; torch only for torch models."""
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
    return TabularPredictor(meta, preprocessor, backend)

"""Prediction bodies (records and MLflow's scoring forms) turned into rows, and the cache of
loaded models in the API process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mlengine.predict import Predictor
from service.errors import TooLarge, Unprocessable

BODY_KEYS = (
    "records",
    "dataframe_records",
    "dataframe_split",
    "instances",
    "inputs",
    "observations",
)


def _bad(msg: str) -> Unprocessable:
    return Unprocessable.at(["body"], msg)


def rows_from_body(body: dict[str, Any], columns: list[str], max_rows: int) -> list[dict[str, Any]]:
    """Rows as dicts from any accepted body form; 422 naming what is wrong."""
    present = [k for k in BODY_KEYS if k in body]
    if len(present) != 1 or set(body) - set(BODY_KEYS) - {"params"}:
        raise _bad(
            "send exactly one of: " + ", ".join(BODY_KEYS) + f"; got: {', '.join(body) or 'none'}"
        )
    key = present[0]
    value = body[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise _bad("dataframe_split needs {'columns': [...], 'data': [[...], ...]}")
        split_cols = value.get("columns", columns)
        if not isinstance(split_cols, list) or not all(isinstance(c, str) for c in split_cols):
            raise _bad("dataframe_split.columns must be a list of column names (strings)")
        rows = value["data"]
        check_row_count(rows, max_rows)
        return [_row_from_list(r, i, split_cols) for i, r in enumerate(rows)]
    if key in ("inputs", "instances") and isinstance(value, dict):
        # Columnar form: {"col": [v1, v2, ...], ...}
        lengths = {len(v) for v in value.values() if isinstance(v, list)}
        if len(lengths) != 1 or not all(isinstance(v, list) for v in value.values()):
            raise _bad(f"{key} as columns needs lists of equal length for every column")
        n = lengths.pop()
        check_row_count(range(n), max_rows)
        return [{c: value[c][i] for c in value} for i in range(n)]
    if not isinstance(value, list):
        raise _bad(f"{key} must be a list of rows")
    check_row_count(value, max_rows)
    out = []
    for i, row in enumerate(value):
        if isinstance(row, dict):
            out.append(row)
        elif isinstance(row, list) and key in ("instances", "inputs", "observations"):
            out.append(_row_from_list(row, i, columns))
        else:
            raise _bad(f"row {i} of {key} must be an object mapping column names to values")
    return out


def check_row_count(rows: Any, max_rows: int) -> None:
    if len(rows) == 0:
        raise _bad("no rows to predict; send at least one")
    if len(rows) > max_rows:
        raise TooLarge(
            f"{len(rows)} rows in one request; the limit is {max_rows} "
            "(setting DESCENT_MAX_PREDICT_ROWS); split the request"
        )


def _row_from_list(row: Any, i: int, columns: list[str]) -> dict[str, Any]:
    if not isinstance(row, list):
        raise _bad(f"row {i} must be a list of values")
    if len(row) != len(columns):
        raise _bad(
            f"row {i} has {len(row)} values; expected {len(columns)}, in this order: "
            + ", ".join(columns)
        )
    return dict(zip(columns, row, strict=True))


class PredictorCache:
    """Loaded models, least recently used dropped first; one load per model at a time."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, Predictor] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], Predictor]) -> Predictor:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            predictor = load()
            with self._lock:
                self._items[key] = predictor
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._loading.pop(key, None)
            return predictor

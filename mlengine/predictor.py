"""What every loaded model is: a ``Predictor`` (below the loaders and the model families).

``predictor.predict(body, max_rows=...)`` takes a prediction request as the client sent it:

- a dict with exactly one body form: ``records``, ``dataframe_records``,
  ``dataframe_split``, ``instances`` or ``inputs`` (MLflow's scoring forms) for a model of
  rows; ``observations`` (or ``instances`` / ``inputs``) for a policy; or
- a plain list, the shorthand of notebooks and tests: row dicts for a model of rows,
  observations for a policy (``predictor.predict([{"a": 1.0}])``).

It answers ``{"predictions": [...]}`` (plus ``probabilities`` and ``classes`` for
classifiers, ``extra`` for Q-values). A body it cannot take raises ``InputError`` whose
``loc`` is the path inside the body (``()``: the body itself); more rows than ``max_rows``
raise ``InputTooLarge``. The families: ``mlengine.predictor_tabular.TabularPredictor`` and
``mlengine.rl.policy.PolicyPredictor``; ``mlengine.predict.load_predictor`` picks one.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from mlengine.errors import InputError, InputTooLarge
from mlengine.types import ModelInfo

Body = dict[str, Any] | list[Any]


class Predictor(ABC):
    """A loaded model."""

    @property
    @abstractmethod
    def info(self) -> ModelInfo:
        """Task, model type, inputs, classes and the artifact's extra information."""

    @abstractmethod
    def predict(self, body: Body, max_rows: int | None = None) -> dict[str, Any]:
        """Predictions for a request body or a plain list (see the module's docstring).

        ``max_rows``: the most rows (observations) one call may carry; ``None``: no limit.
        """


def check_row_count(rows: Any, max_rows: int | None) -> None:
    """A request body's rows: at least one, at most ``max_rows``."""
    if len(rows) == 0:
        raise InputError("no rows to predict; send at least one")
    check_not_too_many(rows, max_rows)


def check_not_too_many(rows: Any, max_rows: int | None) -> None:
    if max_rows is not None and len(rows) > max_rows:
        raise InputTooLarge(
            f"{len(rows)} rows in one request; the limit is {max_rows} "
            "(setting DESCENT_MAX_PREDICT_ROWS); split the request"
        )


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)

"""Prediction bodies: every accepted form gives the same rows; bad ones name the problem."""

from __future__ import annotations

import pytest

from mlengine.errors import InputError, InputTooLarge
from mlengine.predictor_tabular import rows_from_body
from service.models.cache import PredictorCache

COLUMNS = ["a", "b"]
ROWS = [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}]


@pytest.mark.parametrize(
    "body",
    [
        {"records": ROWS},
        {"dataframe_records": ROWS},
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, "x"], [2.0, "y"]]}},
        {
            "dataframe_split": {
                "index": [0, 1],
                "columns": ["b", "a"],
                "data": [["x", 1.0], ["y", 2.0]],
            }
        },
        {"instances": [[1.0, "x"], [2.0, "y"]]},
        {"inputs": [[1.0, "x"], [2.0, "y"]]},
        {"inputs": {"a": [1.0, 2.0], "b": ["x", "y"]}},
        {"instances": ROWS},
    ],
)
def test_every_form_gives_the_same_rows(body: dict) -> None:
    assert rows_from_body(body, COLUMNS, 100) == ROWS


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "send exactly one of"),
        ({"records": ROWS, "instances": []}, "send exactly one of"),
        ({"rows": ROWS}, "records"),
        ({"records": "nope"}, "must be a list"),
        ({"records": []}, "at least one"),
        ({"records": [[1.0, "x"]]}, "row 0 of records must be an object"),
        ({"instances": [[1.0]]}, "row 0 has 1 values; expected 2, in this order: a, b"),
        ({"dataframe_split": {"columns": ["a"]}}, "dataframe_split needs"),
        ({"inputs": {"a": [1.0], "b": [1, 2]}}, "equal length"),
    ],
)
def test_bad_bodies_name_the_problem(body: dict, words: str) -> None:
    with pytest.raises(InputError) as exc:
        rows_from_body(body, COLUMNS, 100)
    assert words in exc.value.message


def test_row_limit_is_413() -> None:
    with pytest.raises(InputTooLarge, match="DESCENT_MAX_PREDICT_ROWS"):
        rows_from_body({"records": ROWS * 3}, COLUMNS, 5)


def test_predictor_cache_keeps_the_newest() -> None:
    cache = PredictorCache(2)
    loads: list[str] = []

    def loader(key: str):  # type: ignore[no-untyped-def]
        def load():  # type: ignore[no-untyped-def]
            loads.append(key)
            return key

        return load

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(key, loader(key))  # type: ignore[arg-type]
    assert loads == ["a", "b", "c", "b"]


def test_split_columns_must_be_names() -> None:
    body = {"dataframe_split": {"columns": [["a"], "b"], "data": [[1.0, "x"]]}}
    with pytest.raises(InputError, match="strings"):
        rows_from_body(body, COLUMNS, 100)

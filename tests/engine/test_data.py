"""Data preparation: splits, target handling, preprocessing fitted on training rows only."""

from __future__ import annotations

import io
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mlengine import JobSpec, TrainingError, load_predictor, train, validate_spec
from mlengine.data import prepare
from mlengine.profiling import profile_table
from mlengine.validation import check_against_dataset


def checked(raw: dict, table: pa.Table) -> JobSpec:
    return check_against_dataset(validate_spec(raw), profile_table(table))


def test_split_sizes_stratified_and_seeded() -> None:
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.normal(size=200), "y": ["a"] * 150 + ["b"] * 50})
    spec = checked({"model": {"type": "logistic_regression"}, "target": "y"}, table)
    p = prepare(spec, table)
    assert p.split_info["stratified"] is True
    assert (len(p.y["train"]), len(p.y["val"]), len(p.y["test"])) == (120, 40, 40)
    assert p.y["test"].sum() == 10  # 25% of the test split is class "b", as in the data
    again = prepare(spec, table)
    assert np.array_equal(p.X["test"], again.X["test"])
    other = prepare(spec.model_copy(update={"seed": 1}), table)
    assert not np.array_equal(p.X["test"], other.X["test"])
    # scaling statistics come from the training rows only
    assert abs(p.X["train"].mean()) < 1e-9 and abs(p.X["test"].mean()) > 1e-6


def test_too_small_class_falls_back_with_a_reason() -> None:
    table = pa.table({"x": np.arange(60.0), "y": ["a"] * 30 + ["b"] * 29 + ["c"]})
    spec = checked({"model": {"type": "logistic_regression"}, "target": "y"}, table)
    p = prepare(spec, table)
    assert p.split_info["stratified"] is False
    assert "class 'c' has only 1 row" in p.split_info["note"]


def test_labels_keep_their_type() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=120)
    for labels, expected in (
        (np.where(x > 0, 10, -3), [-3, 10]),
        (x > 0, [False, True]),
        (np.where(x > 0, "up", "down"), ["down", "up"]),
    ):
        table = pa.table({"x": x, "y": labels})
        result = train({"model": {"type": "logistic_regression"}, "target": "y"}, table)
        assert result.info.classes == expected
        out = load_predictor(result.artifact).predict([{"x": 2.0}, {"x": -2.0}])
        assert out["predictions"] == [expected[1], expected[0]]
        assert [type(v) for v in out["predictions"]] == [type(expected[0])] * 2


@pytest.mark.parametrize(
    "params", [{"penalty": "none"}, {"penalty": "l1"}, {"class_weight": "balanced", "C": 0.1}]
)
def test_logistic_variants(breast_cancer: pa.Table, params: dict) -> None:
    spec = {"model": {"type": "logistic_regression", "params": params}, "target": "target"}
    assert train(spec, breast_cancer).metrics["test_accuracy"] > 0.9


@pytest.mark.filterwarnings("ignore:Found unknown categories")
def test_preprocessing_options(mixed: pa.Table) -> None:
    spec = {
        "model": {"type": "logistic_regression"},
        "target": "label",
        "preprocessing": {
            "scaling": "robust",
            "impute_numeric": "median",
            "impute_categorical": "constant",
            "one_hot_drop_first": True,
        },
    }
    result = train(spec, mixed)
    assert result.metrics["test_accuracy"] > 0.75
    pred = load_predictor(result.artifact)
    row = {"age": None, "income": None, "city": "unseen", "member": None}
    assert pred.predict([row])["predictions"][0] in ("no", "yes")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_asked_without_gpu(breast_cancer: pa.Table) -> None:
    with pytest.raises(TrainingError) as info:
        train({"model": {"type": "mlp"}, "target": "target", "device": "cuda"}, breast_cancer)
    assert info.value.type == "device"


def test_profile_counts_nan_as_missing_and_only_valid_values_as_distinct() -> None:
    nan = float("nan")
    table = pa.table(
        {
            "f": pa.chunked_array([[1.0, nan, None], [1.0, 2.5, nan]]),
            "i": pa.array([1, 2, None, 2, 3, 1]),
            "s": pa.array(["a", None, "b", "a", "a", None]),
        }
    )
    cols = {c.name: c for c in profile_table(table).columns}
    assert (cols["f"].dtype, cols["f"].n_missing, cols["f"].n_unique) == ("float", 3, 2)
    assert (cols["i"].dtype, cols["i"].n_missing, cols["i"].n_unique) == ("int", 1, 3)
    assert (cols["s"].dtype, cols["s"].n_missing, cols["s"].n_unique) == ("string", 2, 2)
    # stored as Parquet and read back (as the worker does), the profile is the same
    buf = io.BytesIO()
    pq.write_table(table, buf)
    assert profile_table(pq.read_table(pa.BufferReader(buf.getvalue()))) == profile_table(table)


def test_train_takes_a_validated_spec_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=120)
    table = pa.table({"x": x, "y": np.where(x > 0, "up", "down")})
    raw = {"model": {"type": "logistic_regression"}, "target": "y"}
    expected = train(raw, table).metrics
    # the worker's path: the checked spec saved as JSON and read back
    saved = checked(raw, table).model_dump(mode="json")
    train_module = sys.modules["mlengine.train"]

    def no_second_validation(*args: object, **kwargs: object) -> None:
        raise AssertionError("a JobSpec was validated again")

    monkeypatch.setattr(train_module, "validate_spec", no_second_validation)
    assert train(JobSpec.model_validate(saved), table).metrics == expected
    with pytest.raises(AssertionError, match="validated again"):
        train(raw, table)  # a raw dict is validated

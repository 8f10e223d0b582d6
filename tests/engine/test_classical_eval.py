"""Evaluation of the classical kinds: k-fold CV, learning curves, the bias/variance
diagnosis, metrics, mixed-type data, preprocessing options, and specs refused up front."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from mlengine import RecordingCallbacks, SpecError, load_predictor, train
from mlengine.profiling import profile_table
from mlengine.validation import check_against_dataset, validate_spec


def test_kfold_cv_metrics_and_points(breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    spec = {
        "model": {"type": "logistic_regression"},
        "target": "target",
        "split": {"kfold": 5, "test": 0.2},
    }
    result = train(spec, breast_cancer, cb)
    m = result.metrics
    folds = cb.series("cv_accuracy")
    assert len(folds) == 5 and [s for s, n, _ in cb.metrics if n == "cv_accuracy"] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert m["cv_accuracy"] == pytest.approx(np.mean(folds))
    assert m["cv_accuracy_std"] == pytest.approx(np.std(folds))
    assert m["cv_accuracy"] >= 0.95 and m["test_accuracy"] >= 0.94
    assert {"cv_f1", "cv_f1_std", "cv_roc_auc", "cv_log_loss"} <= set(m)
    assert not any(k.startswith("val_") for k in m)
    assert result.extra["split"]["kfold_stratified"] is True
    assert result.extra["diagnosis"]["val_split"] == "cv"
    assert result.extra["diagnosis"]["val_score"] == m["cv_accuracy"]
    assert cb.progress[-1] == (6, 6)


def test_kfold_regression(diabetes: pa.Table) -> None:
    spec = {"model": {"type": "linear_regression"}, "target": "target", "split": {"kfold": 4}}
    m = train(spec, diabetes).metrics
    assert 0.35 <= m["cv_r2"] <= 0.6 and 0 < m["cv_r2_std"] < 0.2


def test_learning_curve_points(breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    spec = {
        "model": {"type": "decision_tree"},
        "target": "target",
        "split": {"validation": 0.2, "test": 0.2, "learning_curve": 5},
    }
    train(spec, breast_cancer, cb)
    train_curve = [(s, v) for s, n, v in cb.metrics if n == "learning_curve_train_accuracy"]
    val_curve = [(s, v) for s, n, v in cb.metrics if n == "learning_curve_val_accuracy"]
    sizes = [s for s, _ in train_curve]
    assert len(sizes) == 5 and sizes == sorted(sizes) and sizes[-1] == 341
    assert [s for s, _ in val_curve] == sizes
    # an unpruned tree fits its training rows; validation improves with more of them
    assert all(v == 1.0 for _, v in train_curve)
    assert val_curve[-1][1] > val_curve[0][1]


def test_diagnosis_high_variance(diabetes: pa.Table) -> None:
    spec = {"model": {"type": "decision_tree"}, "target": "target", "seed": 1}
    d = train(spec, diabetes).extra["diagnosis"]
    assert d["verdict"] == "high_variance", d
    assert d["train_score"] == 1.0 and d["val_score"] < 0.3 and d["baseline_score"] == 0.0
    text = " ".join(d["advice"])
    assert "more training examples" in text and "increasing regularization" in text
    assert "max_depth" in text and "bagging" in text


def test_diagnosis_high_bias() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 600)
    table = pa.table({"x": x, "y": x**2 + rng.normal(0, 0.3, 600)})
    d = train({"model": {"type": "linear_regression"}, "target": "y"}, table).extra["diagnosis"]
    assert d["verdict"] == "high_bias", d
    text = " ".join(d["advice"])
    assert "additional features" in text and "polynomial" in text
    assert "decreasing regularization" in text
    # a flexible model on the same data fits well
    flexible = {"model": {"type": "svm", "params": {"C": 10.0}}, "target": "y"}
    assert train(flexible, table).extra["diagnosis"]["verdict"] == "good_fit"


def test_diagnosis_good_fit_and_classification_baseline(breast_cancer: pa.Table) -> None:
    d = train({"model": {"type": "logistic_regression"}, "target": "target"}, breast_cancer).extra[
        "diagnosis"
    ]
    assert d["verdict"] == "good_fit", d
    assert d["metric"] == "accuracy" and 0.6 < d["baseline_score"] < 0.65  # majority class
    weak = {"model": {"type": "logistic_regression", "params": {"C": 1e-5}}, "target": "target"}
    assert train(weak, breast_cancer).extra["diagnosis"]["verdict"] == "high_bias"


def test_multiclass_metrics_and_svm_scores(breast_cancer: pa.Table) -> None:
    from sklearn.datasets import load_wine

    wine = pa.Table.from_pandas(load_wine(as_frame=True).frame, preserve_index=False)
    spec: dict[str, Any] = {"model": {"type": "svm"}, "target": "target", "task": "classification"}
    result = train(spec, wine)
    m = result.metrics
    assert m["test_roc_auc"] > 0.95 and "test_log_loss" not in m  # scores, not probabilities
    assert "not calibrated" in result.info.extra["probabilities"]
    spec["model"]["params"] = {"probability": True}
    calibrated = train(spec, wine)
    assert "test_log_loss" in calibrated.metrics and "probabilities" not in calibrated.info.extra
    binary = train(spec | {"target": "target", "task": None}, breast_cancer).metrics
    assert {"test_f1_binary", "test_precision_binary", "test_recall_binary"} <= set(binary)


@pytest.mark.parametrize(
    "kind",
    [
        "logistic_regression",
        "knn",
        "naive_bayes",
        "svm",
        "decision_tree",
        "random_forest",
        "adaboost",
        "gradient_boosting",
    ],
)
def test_mixed_types_with_missing_values(mixed: pa.Table, kind: str) -> None:
    result = train({"model": {"type": kind}, "target": "label"}, mixed)
    assert result.metrics["test_accuracy"] >= 0.72, result.metrics
    pred = load_predictor(result.artifact)
    rows = [
        {"age": 30, "income": None, "city": "paris", "member": True},
        {"age": None, "income": 80_000.0, "city": None, "member": None},
        {"age": 50, "income": 40_000.0, "city": "tokyo", "member": False},  # unseen category
    ]
    out = pred.predict(rows)
    assert set(out["predictions"]) <= {"yes", "no"} and out["classes"] == ["no", "yes"]


def test_preprocessing_options(mixed: pa.Table) -> None:
    base = {"model": {"type": "logistic_regression"}, "target": "label"}
    widths = {}
    for name, prep in {
        "onehot": {},
        "ordinal": {"categorical_encoding": "ordinal"},
        "binned": {"binning": "quantile", "n_bins": 4, "bin_columns": ["age"]},
        "constant": {"impute_numeric": "constant", "fill_value": -1.0, "scaling": "robust"},
    }.items():
        result = train({**base, "preprocessing": prep}, mixed)
        assert result.metrics["test_accuracy"] >= 0.7, (name, result.metrics)
        widths[name] = result.info.extra["n_features"]
    # age, income + city one-hot (3) + member one-hot (2); ordinal: one column each
    assert widths["onehot"] == 7 and widths["ordinal"] == 4 and widths["binned"] == 7 + 3


def test_clustering_ignores_target_and_is_seeded(mixed: pa.Table) -> None:
    spec = {"model": {"type": "kmeans", "params": {"n_clusters": 3}}, "target": "label"}
    a, b = train(spec, mixed), train(spec, mixed)
    assert a.metrics == b.metrics and "train_ari" in a.metrics
    assert [c["name"] for c in a.info.inputs] == ["age", "income", "city", "member"]


@pytest.mark.parametrize(
    ("raw", "loc", "words"),
    [
        ({"model": {"type": "linear_regression"}, "target": "label"}, ["model", "type"], "looks"),
        (
            {"model": {"type": "svm"}, "target": "label", "task": "regression"},
            ["target"],
            "numeric",
        ),
        ({"model": {"type": "knn"}, "target": "one"}, ["target"], "at least 2"),
        (
            {"model": {"type": "pca", "params": {"n_components": 50}}},
            ["model", "params", "n_components"],
            "larger than the number of features",
        ),
        (
            {"model": {"type": "pca", "params": {"n_components": 1.5}}},
            ["model", "params", "n_components"],
            "between 0 and 1",
        ),
        (
            {"model": {"type": "agglomerative", "params": {"linkage": "median"}}},
            ["model", "params", "linkage"],
            "single",
        ),
        (
            {"model": {"type": "kmeans", "params": {"n_clusters": 10_000}}},
            ["model", "params", "n_clusters"],
            "rows",
        ),
        (
            {"model": {"type": "decision_tree", "params": {"criterion": "gini"}}, "target": "age"},
            ["model", "params", "criterion"],
            "squared_error",
        ),
        (
            {"model": {"type": "logistic_regression"}, "target": "label", "split": {"kfold": 1}},
            ["split", "kfold"],
            "",
        ),
        (
            {
                "model": {
                    "type": "linear_regression",
                    "params": {"penalty": "l1", "solver": "normal_equation"},
                },
                "target": "age",
            },
            ["model", "params"],
            "closed form",
        ),
        (
            {
                "model": {"type": "knn"},
                "target": "label",
                "preprocessing": {"binning": "uniform", "bin_columns": ["city"]},
            },
            ["preprocessing", "bin_columns", 0],
            "numeric",
        ),
    ],
)
def test_bad_specs_refused_before_training(
    mixed: pa.Table, raw: dict[str, Any], loc: list[Any], words: str
) -> None:
    table = mixed.append_column("one", pa.array(["x"] * mixed.num_rows))
    with pytest.raises(SpecError) as info:
        check_against_dataset(validate_spec({"dataset_id": "ds", **raw}), profile_table(table))
    errors = info.value.errors
    assert any(e["loc"][: len(loc)] == loc for e in errors), errors
    assert words in str(errors)

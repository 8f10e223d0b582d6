"""scikit-learn kinds: quality on bundled data, reporting, artifacts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mlengine import Callbacks, RecordingCallbacks, TrainingStopped, load_predictor, train


def test_logistic_regression_breast_cancer(breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    result = train(
        {"model": {"type": "logistic_regression"}, "target": "target"}, breast_cancer, cb
    )
    m = result.metrics
    assert m["test_accuracy"] >= 0.94
    for name in (
        "train_accuracy",
        "val_accuracy",
        "test_f1",
        "test_precision",
        "test_recall",
        "test_log_loss",
        "test_roc_auc",
    ):
        assert name in m
    assert result.info.task == "classification"
    assert result.info.model_type == "logistic_regression"
    assert result.info.classes == [0, 1]
    assert [c["name"] for c in result.info.inputs][:2] == ["mean radius", "mean texture"]
    assert cb.progress[-1] == (1, 1)
    assert [(s, k) for s, k, _ in cb.checkpoints] == [(1, "final")]
    assert result.extra["split"]["stratified"] is True


def test_linear_regression_diabetes(diabetes: pa.Table) -> None:
    # Seed 0's hold-out split of this small data set is a known unlucky one (test R^2 ~0.34
    # for plain least squares, like sklearn's train_test_split(random_state=0)); seed 1 is typical.
    result = train(
        {"model": {"type": "linear_regression"}, "target": "target", "seed": 1}, diabetes
    )
    m = result.metrics
    assert m["test_r2"] >= 0.4
    assert {"train_mse", "val_rmse", "test_mae", "test_rmse"} <= set(m)
    assert result.info.task == "regression" and result.info.classes is None
    pred = load_predictor(result.artifact)
    row = {c: 0.01 for c in pred.columns_in_order()}
    out = pred.predict([row, row])
    assert set(out) == {"predictions"} and len(out["predictions"]) == 2
    assert isinstance(out["predictions"][0], float)


@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
def test_linear_regression_penalties(diabetes: pa.Table, penalty: str) -> None:
    spec = {
        "model": {"type": "linear_regression", "params": {"penalty": penalty, "alpha": 0.1}},
        "target": "target",
        "seed": 1,
    }
    assert train(spec, diabetes).metrics["test_r2"] > 0.3


def test_no_validation_split(breast_cancer: pa.Table) -> None:
    spec = {
        "model": {"type": "logistic_regression", "params": {"penalty": "l1", "C": 0.5}},
        "target": "target",
        "split": {"validation": 0.0, "test": 0.25},
    }
    m = train(spec, breast_cancer).metrics
    assert not any(k.startswith("val_") for k in m)
    assert m["test_accuracy"] > 0.9


def test_should_stop_before_fit(breast_cancer: pa.Table) -> None:
    class Stop(Callbacks):
        def should_stop(self) -> bool:
            return True

    with pytest.raises(TrainingStopped):
        train({"model": {"type": "logistic_regression"}, "target": "target"}, breast_cancer, Stop())


def test_same_seed_same_metrics(breast_cancer: pa.Table) -> None:
    spec = {"model": {"type": "logistic_regression"}, "target": "target", "seed": 3}
    assert train(spec, breast_cancer).metrics == train(spec, breast_cancer).metrics

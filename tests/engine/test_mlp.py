"""The mlp kind: quality, reporting, stop, resume, divergence, determinism."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from mlengine import RecordingCallbacks, TrainingError, TrainingStopped, load_predictor, train
from mlengine.nn.checkpoint import decode


def mlp_spec(**training: Any) -> dict[str, Any]:
    return {"model": {"type": "mlp"}, "target": "target", "device": "cpu", "training": training}


@pytest.fixture(scope="module")
def bc_run(breast_cancer: pa.Table):
    cb = RecordingCallbacks()
    return train(mlp_spec(epochs=20), breast_cancer, cb), cb


def test_mlp_breast_cancer(bc_run) -> None:
    result, cb = bc_run
    assert result.metrics["test_accuracy"] >= 0.94
    assert "test_roc_auc" in result.metrics and "train_accuracy" in result.metrics
    assert cb.progress[-1] == (20, 20)
    for name in ("train_loss", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds"):
        assert len(cb.series(name)) == 20, name
    assert sorted({s for s, _, _ in cb.metrics}) == list(range(1, 21))
    losses = cb.series("train_loss")
    assert losses[-1] < losses[0]
    kinds = [(s, k) for s, k, _ in cb.checkpoints]
    assert [s for s, k in kinds if k == "periodic"] == [5, 10, 15]
    assert kinds[-1] == (20, "final")
    assert any(k == "best" for _, k in kinds)
    tensors, meta = decode(cb.checkpoints[0][2])
    assert meta["epoch"] == 5 and meta["kind"] == "mlp"
    assert any(k.startswith("optim.") for k in tensors)


def test_mlp_gets_a_bias_variance_diagnosis(bc_run) -> None:
    result, _ = bc_run
    diagnosis = result.extra["diagnosis"]
    assert diagnosis["verdict"] in ("high_bias", "high_variance", "good_fit")
    assert diagnosis["train_score"] == result.metrics["train_accuracy"]
    assert diagnosis["val_score"] == result.metrics["val_accuracy"]
    assert 0.5 < diagnosis["baseline_score"] < 0.7  # the majority class of breast cancer
    assert diagnosis["advice"]


def test_mlp_artifact_round_trip(bc_run, breast_cancer: pa.Table) -> None:
    result, _ = bc_run
    pred = load_predictor(bytes(result.artifact))
    assert pred.info.classes == [0, 1]
    rows = breast_cancer.drop_columns(["target"]).slice(0, 50).to_pylist()
    out = pred.predict(rows)
    truth = breast_cancer.column("target").slice(0, 50).to_pylist()
    assert sum(p == t for p, t in zip(out["predictions"], truth, strict=True)) >= 45
    assert all(abs(sum(p) - 1.0) < 1e-6 for p in out["probabilities"])
    assert out["classes"] == [0, 1] and all(type(p) is int for p in out["predictions"])


def test_mlp_regression_and_multiclass(diabetes: pa.Table) -> None:
    spec = {
        "model": {"type": "mlp", "params": {"hidden_layers": [32]}},
        "target": "target",
        "seed": 1,
        "training": {"epochs": 30},
    }
    cb = RecordingCallbacks()
    m = train(spec, diabetes, cb).metrics
    assert m["test_r2"] > 0.3
    assert len(cb.series("val_r2")) == 30 and len(cb.series("val_mse")) == 30

    from sklearn.datasets import load_iris

    iris = pa.Table.from_pandas(load_iris(as_frame=True).frame, preserve_index=False)
    spec = {
        "model": {"type": "mlp"},
        "target": "target",
        "training": {"epochs": 30, "learning_rate": 0.01},
    }
    result = train(spec, iris)
    assert result.metrics["test_accuracy"] >= 0.85
    assert result.info.classes == [0, 1, 2]


def test_should_stop_mid_epoch(breast_cancer: pa.Table) -> None:
    class StopAt(RecordingCallbacks):
        def __init__(self, at: int) -> None:
            super().__init__()
            self.calls = 0
            self.at = at

        def should_stop(self) -> bool:
            self.calls += 1
            return self.calls >= self.at

    # 341 training rows in batches of 32: 11 batches per epoch; stop in epoch 2
    cb = StopAt(at=15)
    with pytest.raises(TrainingStopped, match="epoch 2"):
        train(mlp_spec(epochs=5, batch_size=32), breast_cancer, cb)
    assert sorted({s for s, _, _ in cb.metrics}) == [1]
    assert cb.calls == 15


def test_resume_from_periodic_checkpoint(breast_cancer: pa.Table) -> None:
    spec = mlp_spec(epochs=6, checkpoint_every=2)
    spec["model"]["params"] = {"dropout": 0.1}  # exercises the restored global RNG too
    full = RecordingCallbacks()
    whole = train(spec, breast_cancer, full)
    periodic = [(s, d) for s, k, d in full.checkpoints if k == "periodic"]
    assert [s for s, _ in periodic] == [2, 4]

    resumed_cb = RecordingCallbacks()
    resumed = train(spec, breast_cancer, resumed_cb, resume=periodic[0][1])
    assert sorted({s for s, _, _ in resumed_cb.metrics}) == [3, 4, 5, 6]
    assert resumed_cb.progress[0] == (3, 6)
    assert resumed.metrics == whole.metrics  # same data, state and RNG: the same run
    assert resumed_cb.series("train_loss") == full.series("train_loss")[2:]

    # a worker that died after the final checkpoint: nothing left to train, same model
    final = next(d for _, k, d in full.checkpoints if k == "final")
    again_cb = RecordingCallbacks()
    again = train(spec, breast_cancer, again_cb, resume=final)
    assert again.metrics == whole.metrics and again_cb.metrics == []
    assert [k for _, k, _ in again_cb.checkpoints] == ["final"]


def test_resume_with_other_model_is_refused(breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    train(mlp_spec(epochs=2, checkpoint_every=1), breast_cancer, cb)
    spec = mlp_spec(epochs=4)
    spec["model"]["params"] = {"hidden_layers": [8]}
    with pytest.raises(TrainingError) as info:
        train(spec, breast_cancer, resume=cb.checkpoints[0][2])
    assert info.value.type == "resume"


def test_divergence(breast_cancer: pa.Table) -> None:
    with pytest.raises(TrainingError) as info:
        train(mlp_spec(epochs=5, optimizer="sgd", learning_rate=1e4), breast_cancer)
    assert info.value.type == "divergence"
    assert "lower the learning rate (now 10000.0)" in info.value.message
    assert "epoch 1" in info.value.message


def test_same_seed_same_metrics(breast_cancer: pa.Table) -> None:
    spec = mlp_spec(epochs=3)
    spec["model"]["params"] = {"dropout": 0.2}
    a, b = RecordingCallbacks(), RecordingCallbacks()
    ra, rb = (
        train({**spec, "seed": 7}, breast_cancer, a),
        train({**spec, "seed": 7}, breast_cancer, b),
    )
    assert ra.metrics == rb.metrics
    assert a.series("val_loss") == b.series("val_loss")
    rc = train({**spec, "seed": 8}, breast_cancer)
    assert rc.metrics != ra.metrics


def test_mlp_digits_quality_floor() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits(as_frame=True).frame
    table = pa.Table.from_pandas(digits, preserve_index=False)
    spec = {
        "model": {"type": "mlp", "params": {"hidden_layers": [128], "init": "he"}},
        "target": "target",
        "device": "cpu",
        "training": {"epochs": 25, "batch_size": 32},
    }
    result = train(spec, table)
    assert result.metrics["test_accuracy"] >= 0.95
    assert result.info.extra["layers"] == ["body.0", "head"]


def test_mlp_batch_norm_and_regression_losses(diabetes: pa.Table) -> None:
    base = {"model": {"type": "mlp", "params": {"hidden_layers": [32]}}, "target": "target"}
    results = {}
    for loss in ("mse", "sse", "mae", "huber"):
        cb = RecordingCallbacks()
        spec = {**base, "model": {"type": "mlp", "params": {"hidden_layers": [32], "loss": loss}}}
        spec["training"] = {"epochs": 15, "learning_rate": 0.003}
        results[loss] = train(spec, diabetes, cb)
        assert results[loss].metrics["test_r2"] > 0.2, loss
        assert len(cb.series("val_mse")) == 15
    # each loss is its own objective: the curves differ
    assert results["mae"].metrics != results["mse"].metrics
    spec = {**base, "model": {"type": "mlp", "params": {"hidden_layers": [32], "batch_norm": True}}}
    bn = train({**spec, "training": {"epochs": 15, "batch_size": 33}}, diabetes)
    assert bn.metrics["test_r2"] > 0.2

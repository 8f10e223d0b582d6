"""Training options of the neural kinds: optimizers, activations, schedules, early stopping,
regularization, gradient checking, exact resume and transfer learning (init_from)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from safetensors.torch import load

from mlengine import RecordingCallbacks, SpecError, TrainingError, load_predictor, train
from mlengine.artifact import MODEL_SAFETENSORS, read_artifact

ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu"]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "lbfgs"]


@pytest.fixture(scope="module")
def tiny() -> pa.Table:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return pa.table({**{f"f{i}": x[:, i] for i in range(4)}, "y": y})


def net_spec(target: str = "target", params: dict | None = None, **training: Any) -> dict:
    return {
        "model": {"type": "mlp", "params": params or {}},
        "target": target,
        "device": "cpu",
        "training": training,
    }


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_activation_with_every_optimizer(optimizer: str, tiny: pa.Table) -> None:
    for activation in ACTIVATIONS:
        cb = RecordingCallbacks()
        params = {"hidden_layers": [8], "activation": activation}
        lr = 0.5 if optimizer == "lbfgs" else 0.05
        result = train(
            net_spec("y", params, epochs=2, batch_size=16, optimizer=optimizer, learning_rate=lr),
            tiny,
            cb,
        )
        losses = cb.series("train_loss")
        assert len(losses) == 2 and all(np.isfinite(losses)), (activation, losses)
        assert 0.0 <= result.metrics["test_accuracy"] <= 1.0


def test_warmup_then_decay(breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    schedule = {"type": "step", "warmup_epochs": 4, "step_size": 2, "gamma": 0.5}
    train(net_spec(epochs=8, learning_rate=0.01, lr_schedule=schedule), breast_cancer, cb)
    lr = cb.series("learning_rate")
    assert lr[:4] == pytest.approx([0.0025, 0.005, 0.0075, 0.01])  # warmup raises it
    assert lr[4:] == pytest.approx([0.01, 0.01, 0.005, 0.005])  # then steps down


@pytest.mark.parametrize(
    ("schedule", "check"),
    [
        ({"type": "exponential", "decay": 0.5}, lambda lr: lr[2] == pytest.approx(0.0025)),
        ({"type": "cosine", "min_lr": 0.001}, lambda lr: lr[-1] == pytest.approx(0.001)),
    ],
)
def test_decay_schedules(schedule: dict, check: Any, breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    train(net_spec(epochs=5, learning_rate=0.01, lr_schedule=schedule), breast_cancer, cb)
    lr = cb.series("learning_rate")
    assert lr[0] == pytest.approx(0.01) and check(lr), lr
    assert all(a >= b for a, b in zip(lr, lr[1:], strict=False))


def test_early_stopping_ends_a_long_run_and_keeps_the_best(breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    spec = net_spec(
        epochs=2000,
        batch_size=1000,
        learning_rate=0.01,
        early_stopping={"patience": 5, "min_delta": 0.0},
        checkpoint_every=0,
    )
    result = train(spec, breast_cancer, cb)
    val = cb.series("val_loss")
    assert 5 < len(val) < 500
    stop = result.extra["early_stopping"]
    assert stop["stopped"] and stop["last_epoch"] == len(val)
    best = int(np.argmin(val)) + 1
    assert result.extra["best_epoch"] == best and len(val) - best == 5
    # the returned model is the best epoch's: its validation log-loss is that epoch's val_loss
    assert result.metrics["val_log_loss"] == pytest.approx(min(val), rel=1e-4)
    kinds = [(s, k) for s, k, _ in cb.checkpoints]
    assert (best, "best") in kinds and kinds[-1] == (len(val), "final")


def test_divergence_names_epoch_and_learning_rate(tiny: pa.Table) -> None:
    for optimizer in ("sgd", "adam"):
        spec = net_spec("y", epochs=30, optimizer=optimizer, learning_rate=1e4)
        with pytest.raises(TrainingError) as info:
            train(spec, tiny)
        assert info.value.type == "divergence", optimizer
        assert "lower the learning rate (now 10000.0)" in info.value.message
        assert "at epoch" in info.value.message or "by epoch" in info.value.message


def test_gradient_check(breast_cancer: pa.Table) -> None:
    cb = RecordingCallbacks()
    params = {"hidden_layers": [16, 8], "activation": "tanh", "batch_norm": True, "dropout": 0.2}
    result = train(net_spec(params=params, epochs=1, gradient_check=True), breast_cancer, cb)
    err = result.metrics["gradient_check_max_rel_error"]
    assert 0.0 <= err < 1e-5
    assert cb.series("gradient_check_max_rel_error") == [err]


def test_gradient_check_catches_a_wrong_gradient() -> None:
    import torch
    import torch.nn.functional as F

    from mlengine.nn.gradcheck import max_relative_error
    from mlengine.nn.nets import build_net

    torch.manual_seed(0)
    config = {"arch": "mlp", "hidden_layers": [8], "activation": "gelu", "n_inputs": 3}
    net = build_net({**config, "n_outputs": 2})
    x, y = torch.randn(6, 3), torch.randint(0, 2, (6,))
    good = max_relative_error(net, lambda m, a, b: F.cross_entropy(m(a), b), x, y)

    def wrong(m: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        hidden = m.body(a)  # the backward pass misses the hidden layers' path
        return F.cross_entropy(m.head(hidden.detach()), b) + 0.0 * hidden.sum()

    assert good < 1e-6 and max_relative_error(net, wrong, x, y) > 0.5


def test_l1_and_weight_decay_shrink_the_weights(breast_cancer: pa.Table) -> None:
    def weight_norm(**training: Any) -> float:
        result = train(net_spec(epochs=10, learning_rate=0.01, **training), breast_cancer)
        _, files = read_artifact(result.artifact)
        w = load(files[MODEL_SAFETENSORS])
        return float(sum(v.abs().sum() for k, v in w.items() if k.endswith("weight")))

    plain = weight_norm()
    assert weight_norm(l1=0.01) < 0.8 * plain
    assert weight_norm(optimizer="adamw", weight_decay=0.5) < plain


def test_exact_resume_with_plateau_and_early_stopping(breast_cancer: pa.Table) -> None:
    spec = net_spec(
        params={"dropout": 0.1, "batch_norm": True},
        epochs=12,
        optimizer="momentum",
        learning_rate=0.05,
        grad_clip=1.0,
        lr_schedule={"type": "plateau", "patience": 1, "factor": 0.5, "warmup_epochs": 1},
        early_stopping={"patience": 30},
        checkpoint_every=4,
    )
    full = RecordingCallbacks()
    whole = train(spec, breast_cancer, full)
    assert len(set(full.series("learning_rate"))) > 2  # the plateau rule lowered it
    periodic = [d for s, k, d in full.checkpoints if k == "periodic" and s == 4]
    resumed_cb = RecordingCallbacks()
    resumed = train(spec, breast_cancer, resumed_cb, resume=periodic[0])
    assert resumed.metrics == whole.metrics
    assert resumed_cb.series("learning_rate") == full.series("learning_rate")[4:]
    assert resumed_cb.series("val_loss") == full.series("val_loss")[4:]


# --------------------------------------------------------------------------- transfer


def test_init_from_copies_weights_and_freezes_layers(breast_cancer: pa.Table) -> None:
    params = {"hidden_layers": [16, 8]}
    source = train(net_spec(params=params, epochs=3), breast_cancer)
    src_w = load(read_artifact(source.artifact)[1][MODEL_SAFETENSORS])

    spec = net_spec(params=params, epochs=3, learning_rate=0.01)
    spec["init_from"] = {"job_id": "job_source", "freeze": ["body.0"]}
    result = train(spec, breast_cancer, init_from=source.artifact)
    w = load(read_artifact(result.artifact)[1][MODEL_SAFETENSORS])
    assert (w["body.0.0.weight"] == src_w["body.0.0.weight"]).all()  # frozen
    assert not (w["body.1.0.weight"] == src_w["body.1.0.weight"]).all()  # trained on
    assert result.extra["init_from"]["copied"] == ["body.0", "body.1", "head"]
    assert result.extra["trainable_parameters"] < source.info.extra["parameters"]

    # a new task (3 classes instead of 2): the head starts afresh, the body transfers
    rng = np.random.default_rng(0)
    three = breast_cancer.set_column(
        breast_cancer.schema.get_field_index("target"),
        "target",
        pa.array(rng.integers(0, 3, breast_cancer.num_rows)),
    )
    moved = train(spec, three, init_from=source.artifact)
    assert moved.extra["init_from"]["reinitialized"] == ["head"]
    assert load_predictor(moved.artifact).info.classes == [0, 1, 2]


def test_init_from_refuses_what_does_not_fit(breast_cancer: pa.Table, diabetes: pa.Table) -> None:
    source = train(net_spec(params={"hidden_layers": [16]}, epochs=1), breast_cancer)
    spec = net_spec(params={"hidden_layers": [32]}, epochs=1)
    spec["init_from"] = {"job_id": "job_source", "freeze": []}
    with pytest.raises(TrainingError) as info:
        train(spec, breast_cancer, init_from=source.artifact)
    assert info.value.type == "init_from" and "hidden_layers" in info.value.message
    spec = net_spec(params={"hidden_layers": [16]}, epochs=1)
    spec["init_from"] = {"job_id": "job_source", "freeze": []}
    with pytest.raises(TrainingError, match="input features"):
        train(spec, diabetes, init_from=source.artifact)
    # a layer name the network does not have: refused before anything runs
    spec["init_from"] = {"job_id": "job_source", "freeze": ["body.3"]}
    with pytest.raises(SpecError) as err:
        train(spec, breast_cancer, init_from=source.artifact)
    assert err.value.errors[0]["loc"] == ["init_from", "freeze", 0]
    assert "body.0, head" in err.value.errors[0]["msg"]
    # a classical model cannot start from weights
    with pytest.raises(SpecError) as err:
        train(
            {
                "model": {"type": "logistic_regression"},
                "target": "target",
                **{"init_from": {"job_id": "j"}},
            },
            breast_cancer,
        )
    assert err.value.errors[0]["loc"] == ["init_from"]


def test_resume_from_a_best_checkpoint_emitted_later(breast_cancer: pa.Table) -> None:
    """A "best" checkpoint is emitted after its epoch; it holds that epoch's whole state
    (the plateau schedule's included), so a run resumed from it continues exactly."""
    spec = net_spec(
        params={"hidden_layers": [16], "dropout": 0.1, "batch_norm": True},
        epochs=12,
        optimizer="momentum",
        learning_rate=0.05,
        grad_clip=1.0,
        lr_schedule={"type": "plateau", "patience": 1, "factor": 0.5, "warmup_epochs": 1},
        early_stopping={"patience": 2},
        checkpoint_every=3,
    )
    full = RecordingCallbacks()
    train(spec, breast_cancer, full)
    late = [
        (s, d)
        for s, k, d in full.checkpoints
        if k == "best" and s % 3 != 0 and s != 12  # emitted at a later boundary or the end
    ]
    assert late, full.checkpoints
    step, data = late[-1]
    resumed = RecordingCallbacks()
    train(spec, breast_cancer, resumed, resume=data)
    for name in ("train_loss", "val_loss", "learning_rate"):
        assert resumed.series(name) == full.series(name)[step:], name


class StopAfterBatches(RecordingCallbacks):
    """Answers should_stop() True at its ``n``-th question (one per batch)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.asked = n, 0

    def should_stop(self) -> bool:
        self.asked += 1
        return self.asked >= self.n


def test_stop_keeps_a_final_checkpoint_and_resumes_from_it(tiny: pa.Table) -> None:
    from mlengine import TrainingStopped

    spec = net_spec("y", {"hidden_layers": [8]}, epochs=6, batch_size=16, checkpoint_every=0)
    full = RecordingCallbacks()
    train(spec, tiny, full)
    assert [s for s, k, _ in full.checkpoints if k == "final"] == [6]  # at the end only
    batches = len(tiny) // 16  # the training split has fewer rows: at most this many
    cb = StopAfterBatches(2 * batches + 2)  # in epoch 3 at the latest
    with pytest.raises(TrainingStopped):
        train(spec, tiny, cb)
    epochs_done = max(s for s, n, _ in cb.metrics if n == "train_loss")
    finals = [(s, d) for s, k, d in cb.checkpoints if k == "final"]
    assert [s for s, _ in finals] == [epochs_done] and 1 <= epochs_done < 6
    resumed = RecordingCallbacks()
    result = train(spec, tiny, resumed, resume=finals[0][1])
    steps = sorted({s for s, n, _ in resumed.metrics if n == "train_loss"})
    assert steps == list(range(epochs_done + 1, 7))
    assert [s for s, k, _ in resumed.checkpoints if k == "final"] == [6]
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0

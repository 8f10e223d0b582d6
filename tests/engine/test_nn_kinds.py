"""CNN, RNN (rnn / lstm / gru) and Transformer kinds: quality floors, shapes, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from mlengine import (
    ColumnProfile,
    DatasetProfile,
    Limits,
    SpecError,
    check_against_dataset,
    load_predictor,
    train,
    validate_spec,
)
from mlengine.profiling import profile_table, with_sample_shape

T, F = 10, 2


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Conv and recurrent kernels spin-wait across threads; on a busy 2-core machine one
    thread is steadier (the results are the same: runs are seeded and deterministic)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits_npz_table() -> pa.Table:
    """Digits as an NPZ upload arrives: columns x00..x63 plus y, sample shape [1, 8, 8]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    cols = {f"x{i:02d}": d.data[:, i] for i in range(64)}
    return with_sample_shape(pa.table({**cols, "y": d.target}), [1, 8, 8])


def sequence_table(n: int = 1000, seed: int = 0) -> tuple[pa.Table, np.ndarray]:
    """The label is the sign of the first step's first feature, read at the end of T steps.

    No single step but the first tells anything about it, so a model that sees one step
    (the last, as a per-step model predicting at the end does) is at chance; a sequence
    model must carry the first step's value through the whole sequence.
    """
    rng = np.random.default_rng(seed)
    seq = rng.normal(size=(n, T, F))
    y = (seq[:, 0, 0] > 0).astype(np.int64)
    flat = seq.reshape(n, -1)
    cols = {f"x{i:02d}": flat[:, i] for i in range(T * F)}
    return pa.table({**cols, "y": y}), seq


@pytest.fixture(scope="module")
def sequences() -> tuple[pa.Table, np.ndarray]:
    return sequence_table()


def test_cnn_digits_quality_floor(digits_npz_table: pa.Table) -> None:
    spec = {
        "model": {"type": "cnn"},  # input_shape comes from the table's sample shape
        "target": "y",
        "device": "cpu",
        "training": {"epochs": 20, "learning_rate": 0.003},
    }
    result = train(spec, digits_npz_table)
    assert result.metrics["test_accuracy"] >= 0.96
    assert result.info.extra["input_shape"] == [1, 8, 8]
    assert result.info.extra["layers"] == ["features.0", "features.1", "dense.0", "head"]
    pred = load_predictor(result.artifact)
    rows = digits_npz_table.drop_columns(["y"]).slice(0, 40).to_pylist()
    out = pred.predict(rows)
    truth = digits_npz_table.column("y").slice(0, 40).to_pylist()
    assert sum(p == t for p, t in zip(out["predictions"], truth, strict=True)) >= 37


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_nets_learn_what_one_step_cannot(cell: str, sequences) -> None:
    table, _ = sequences
    spec = {
        "model": {
            "type": "rnn",
            "params": {"input_shape": [T, F], "cell": cell, "hidden_size": 32},
        },
        "target": "y",
        "device": "cpu",
        "training": {"epochs": 12, "learning_rate": 0.01, "batch_size": 32},
    }
    result = train(spec, table)
    assert result.metrics["test_accuracy"] >= 0.85, result.metrics
    assert result.info.extra["layers"] == ["rnn", "head"]


def test_transformer_learns_what_one_step_cannot(sequences) -> None:
    table, _ = sequences
    spec = {
        "model": {
            "type": "transformer",
            "params": {
                "input_shape": [T, F],
                "d_model": 32,
                "n_heads": 4,
                "n_layers": 1,
                "dim_feedforward": 64,
                "dropout": 0.0,
            },
        },
        "target": "y",
        "device": "cpu",
        "training": {"epochs": 8, "learning_rate": 0.003, "batch_size": 32},
    }
    result = train(spec, table)
    assert result.metrics["test_accuracy"] >= 0.9, result.metrics


def test_one_step_model_is_at_chance(sequences) -> None:
    """The baseline the two tests above beat: the same data, one (the last) step per row."""
    table, seq = sequences
    last = pa.table({"a": seq[:, -1, 0], "b": seq[:, -1, 1], "y": table.column("y")})
    spec = {"model": {"type": "mlp"}, "target": "y", "device": "cpu", "training": {"epochs": 12}}
    assert train(spec, last).metrics["test_accuracy"] < 0.65


def test_bidirectional_stacked_rnn_and_cls_transformer_run(sequences) -> None:
    table, _ = sequences
    small = table.slice(0, 200)
    rnn = {
        "type": "rnn",
        "params": {
            "input_shape": [T, F],
            "cell": "rnn",
            "hidden_size": 8,
            "num_layers": 2,
            "bidirectional": True,
            "dropout": 0.1,
        },
    }
    tr = {
        "type": "transformer",
        "params": {
            "input_shape": [T, F],
            "d_model": 8,
            "n_heads": 2,
            "n_layers": 1,
            "pooling": "cls",
            "positional_encoding": "learned",
        },
    }
    for model in (rnn, tr):
        spec = {"model": model, "target": "y", "device": "cpu", "training": {"epochs": 2}}
        result = train(spec, small)
        pred = load_predictor(result.artifact)
        out = pred.predict(small.drop_columns(["y"]).slice(0, 3).to_pylist())
        assert len(out["predictions"]) == 3


# --------------------------------------------------------------------------- bad input


def _profile(n_features: int, shape: list[int] | None = None, dtype: str = "float"):
    cols = [ColumnProfile(f"x{i:02d}", dtype, 0, 50) for i in range(n_features)]  # type: ignore[arg-type]
    return DatasetProfile(
        n_rows=100, columns=[*cols, ColumnProfile("y", "int", 0, 3)], sample_shape=shape
    )


def _errors(raw: dict[str, Any], profile: DatasetProfile, **limits: int) -> list[dict[str, Any]]:
    lim = Limits(**limits)
    with pytest.raises(SpecError) as info:
        check_against_dataset(validate_spec(raw, lim), profile, lim)
    return info.value.errors


def test_input_shape_must_match_the_feature_count() -> None:
    raw = {"model": {"type": "cnn", "params": {"input_shape": [1, 8, 7]}}, "target": "y"}
    errs = _errors(raw, _profile(64))
    assert errs[0]["loc"] == ["model", "params", "input_shape"]
    assert "56 values" in errs[0]["msg"] and "64 feature columns" in errs[0]["msg"]


def test_sequence_kinds_need_a_sequence_shape() -> None:
    for kind in ("rnn", "transformer"):
        errs = _errors({"model": {"type": kind}, "target": "y"}, _profile(20))
        assert errs[0]["loc"] == ["model", "params", "input_shape"]
        assert "[T, F]" in errs[0]["msg"]
    # an image dataset is not a sequence either
    errs = _errors({"model": {"type": "rnn"}, "target": "y"}, _profile(64, [1, 8, 8]))
    assert "[1, 8, 8]" in errs[0]["msg"] or "[T, F]" in errs[0]["msg"]


def test_sample_shape_fills_input_shape() -> None:
    spec = validate_spec({"model": {"type": "rnn"}, "target": "y"}, Limits())
    checked = check_against_dataset(spec, _profile(20, [10, 2]), Limits())
    assert checked.model.params["input_shape"] == [10, 2]
    spec = validate_spec({"model": {"type": "cnn"}, "target": "y"}, Limits())
    checked = check_against_dataset(spec, _profile(64, [1, 8, 8]), Limits())
    assert checked.model.params["input_shape"] == [1, 8, 8]


def test_too_many_parameters_and_bad_params() -> None:
    raw = {"model": {"type": "cnn", "params": {"channels": [512, 512]}}, "target": "y"}
    raw["model"]["params"]["input_shape"] = [1, 8, 8]
    errs = _errors(raw, _profile(64), max_parameters=100_000)
    assert errs[0]["loc"] == ["model", "params", "channels"] and "parameters" in errs[0]["msg"]
    raw = {"model": {"type": "rnn", "params": {"hidden_size": 2048}}, "target": "y"}
    errs = _errors(raw, _profile(20, [10, 2]), max_parameters=1_000_000)
    assert errs[0]["loc"] == ["model", "params", "hidden_size"]
    raw = {"model": {"type": "transformer", "params": {"d_model": 30, "n_heads": 4}}}
    errs = _errors({**raw, "target": "y"}, _profile(20, [10, 2]))
    assert "multiple of n_heads" in errs[0]["msg"]
    raw = {"model": {"type": "cnn", "params": {"input_shape": [1, 8, 8]}}, "target": "y"}
    errs = _errors(raw, _profile(64, dtype="string"))
    assert errs[0]["loc"] == ["features", 0]


def test_profile_table_reads_the_sample_shape(digits_npz_table: pa.Table) -> None:
    assert profile_table(digits_npz_table).sample_shape == [1, 8, 8]
    assert profile_table(digits_npz_table.replace_schema_metadata(None)).sample_shape is None

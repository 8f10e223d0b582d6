"""Spec validation and checks against a dataset profile (no training, no torch)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from mlengine import (
    ColumnProfile,
    DatasetProfile,
    JobSpec,
    Limits,
    SpecError,
    check_against_dataset,
    get_kind,
    kind_names,
    validate_spec,
)

PROFILE = DatasetProfile(
    n_rows=100,
    columns=[
        ColumnProfile("age", "int", 0, 60),
        ColumnProfile("income", "float", 3, 95),
        ColumnProfile("city", "string", 2, 3),
        ColumnProfile("member", "bool", 0, 2),
        ColumnProfile("label", "string", 0, 2),
        ColumnProfile("price", "float", 0, 100),
        ColumnProfile("constant", "string", 0, 1),
        ColumnProfile("many", "int", 0, 7),
    ],
)


def spec(**kw: Any) -> dict[str, Any]:
    return {"dataset_id": "d1", "target": "label", "model": {"type": "mlp"}, **kw}


def error_of(raw: dict[str, Any], profile: DatasetProfile | None = PROFILE, **limits: int):
    lim = Limits(**limits)
    with pytest.raises(SpecError) as info:
        check_against_dataset(validate_spec(raw, lim), profile, lim)
    return info.value.errors


def test_defaults_filled_in() -> None:
    s = validate_spec(spec(), Limits())
    assert s.model.params == {
        "hidden_layers": [64, 32],
        "activation": "relu",
        "init": "auto",
        "batch_norm": False,
        "dropout": 0.0,
        "loss": "mse",
    }
    assert {
        "epochs": 20,
        "batch_size": 64,
        "optimizer": "adam",
        "learning_rate": 0.001,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "l1": 0.0,
        "early_stopping": None,
        "grad_clip": None,
        "gradient_check": False,
        "checkpoint_every": 5,
    }.items() <= s.training.items()
    assert s.training["lr_schedule"]["type"] == "constant"
    assert s.training["lr_schedule"]["warmup_epochs"] == 0
    dumped = s.model_dump(mode="json")
    assert dumped["split"] == {"validation": 0.2, "test": 0.2, "kfold": None, "learning_curve": 0}
    assert dumped["preprocessing"]["scaling"] == "auto"
    assert dumped["seed"] == 0 and dumped["device"] == "auto"
    lr = validate_spec({"model": {"type": "logistic_regression"}}, Limits())
    assert lr.model.params == {
        "penalty": "l2",
        "C": 1.0,
        "max_iter": 1000,
        "class_weight": None,
        "multi_class": "multinomial",
    }
    assert lr.training == {}
    # the filled-in spec validates again to itself
    assert validate_spec(dumped, Limits()) == s


def test_unknown_top_level_key() -> None:
    errs = error_of(spec(epochs=3))
    assert errs[0]["loc"] == ["epochs"]
    assert "unknown key 'epochs'" in errs[0]["msg"] and "training" in errs[0]["msg"]


def test_unknown_nested_key() -> None:
    errs = error_of(spec(split={"validation": 0.1, "holdout": 0.1}))
    assert errs[0]["loc"] == ["split", "holdout"]
    assert "accepted keys: validation, test" in errs[0]["msg"]


def test_unknown_model_type() -> None:
    errs = error_of(spec(model={"type": "resnet9000"}))
    assert errs[0]["loc"] == ["model", "type"]
    for name in ("mlp", "logistic_regression", "linear_regression"):
        assert name in errs[0]["msg"]
    assert set(kind_names()) >= {"mlp", "logistic_regression", "linear_regression"}


def test_unknown_param() -> None:
    errs = error_of(spec(model={"type": "mlp", "params": {"hidden": [3]}}))
    assert errs[0]["loc"] == ["model", "params", "hidden"]
    assert "hidden_layers, activation, init, batch_norm, dropout" in errs[0]["msg"]


def test_bad_param_value() -> None:
    errs = error_of(spec(model={"type": "mlp", "params": {"hidden_layers": [8, 0]}}))
    assert errs[0]["loc"] == ["model", "params", "hidden_layers", 1]
    errs = error_of(spec(model={"type": "mlp", "params": {"activation": "swish"}}))
    assert errs[0]["loc"] == ["model", "params", "activation"]


def test_training_key_for_classical_model() -> None:
    errs = error_of(spec(model={"type": "logistic_regression"}, training={"epochs": 5}))
    assert errs[0]["loc"] == ["training", "epochs"]
    assert "trains to convergence" in errs[0]["msg"]


def test_training_options_checked() -> None:
    errs = error_of(spec(training={"epochs": 50, "optimizer": "adagrad"}), max_epochs=10)
    locs = [e["loc"] for e in errs]
    assert ["training", "epochs"] in locs and ["training", "optimizer"] in locs
    assert "at most 10 epochs" in next(e["msg"] for e in errs if e["loc"][-1] == "epochs")


def test_split_sum() -> None:
    errs = error_of(spec(split={"validation": 0.5, "test": 0.45}))
    assert errs[0]["loc"] == ["split"]


def test_several_errors_at_once() -> None:
    errs = error_of(spec(seed=-1, model={"type": "mlp", "params": {"x": 1}}))
    assert {tuple(e["loc"]) for e in errs} == {("seed",), ("model", "params", "x")}


def test_target_missing() -> None:
    errs = error_of(spec(target=None))
    assert errs[0]["loc"] == ["target"]
    errs = error_of(spec(target="nope"))
    assert errs[0]["loc"] == ["target"]
    assert errs[0]["msg"].startswith("column 'nope' not found; columns are: age, income, city")


def test_feature_missing_or_target() -> None:
    errs = error_of(spec(features=["age", "agge", "label"]))
    assert [e["loc"] for e in errs] == [["features", 1], ["features", 2]]
    assert "column 'agge' not found" in errs[0]["msg"]


def test_non_numeric_regression_target() -> None:
    errs = error_of(spec(task="regression", target="city"))
    assert errs[0]["loc"] == ["target"] and "numeric" in errs[0]["msg"]


def test_single_class_target() -> None:
    errs = error_of(spec(target="constant"))
    assert errs[0]["loc"] == ["target"] and "at least 2" in errs[0]["msg"]


def test_task_inference_and_features_default() -> None:
    s = check_against_dataset(validate_spec(spec(), Limits()), PROFILE, Limits())
    assert s.task == "classification"
    assert s.features == ["age", "income", "city", "member", "price", "constant", "many"]
    assert check_against_dataset(validate_spec(spec(target="price"), Limits()), PROFILE).task == (
        "regression"
    )
    assert check_against_dataset(validate_spec(spec(target="many"), Limits()), PROFILE).task == (
        "classification"
    )


def test_task_the_model_cannot_do() -> None:
    errs = error_of(spec(model={"type": "logistic_regression"}, target="price"))
    assert errs[0]["loc"] == ["model", "type"]
    errs = error_of(spec(model={"type": "linear_regression"}, task="classification"))
    assert errs[0]["loc"] == ["task"]


def test_parameter_limit() -> None:
    raw = spec(model={"type": "mlp", "params": {"hidden_layers": [1000, 1000]}})
    errs = error_of(raw, max_parameters=100_000)
    assert errs[0]["loc"] == ["model", "params", "hidden_layers"]
    # 5 numeric + city (3 one-hot) + member (2) + constant (1) = 10 inputs; binary: 1 output
    n = (10 + 1) * 1000 + 1001 * 1000 + 1001
    assert f"{n:,} parameters" in errs[0]["msg"] and "100,000" in errs[0]["msg"]
    errs = error_of(
        spec(model={"type": "mlp", "params": {"hidden_layers": [64, 5000]}}), max_layer_width=4096
    )
    assert errs[0]["loc"] == ["model", "params", "hidden_layers"]


def test_no_dataset_for_supervised() -> None:
    errs = error_of(spec(), profile=None)
    assert errs[0]["loc"] == ["dataset_id"]


def test_jobspec_roundtrip_is_plain_json() -> None:
    s = validate_spec(spec(), Limits())
    assert JobSpec.model_validate(s.model_dump(mode="json")) == s


@pytest.mark.parametrize("name", kind_names())
def test_saved_spec_reads_back_as_validated(name: str) -> None:
    """What the service saves (every default filled in) reads back with
    ``JobSpec.model_validate`` as the spec ``validate_spec`` gave: ``train`` takes it as is."""
    kind = get_kind(name)
    if "reinforcement" in kind.tasks:
        raws = [
            {"model": {"type": name}, "environment": {"id": env}}
            for env in ("CartPole-v1", "FrozenLake-v1", "MountainCar-v0")
        ]
    else:
        raws = [{"dataset_id": "d1", "target": "label", "model": {"type": name}}]
    for raw in raws:
        valid = validate_spec(raw, Limits())
        saved = valid.model_dump(mode="json")
        assert JobSpec.model_validate(saved) == valid
        assert validate_spec(saved, Limits()) == valid
        # a raw body read as a JobSpec is not validated: the kind's params are not filled in
        assert JobSpec.model_validate(raw) != valid


def test_validation_imports_no_torch_or_sklearn() -> None:
    code = (
        "import sys, mlengine\n"
        "from mlengine import validate_spec, check_against_dataset, kinds, Limits\n"
        "from mlengine.types import ColumnProfile, DatasetProfile\n"
        "cols = [ColumnProfile('a', 'float', 0, 9), ColumnProfile('y', 'string', 0, 2)]\n"
        "profile = DatasetProfile(10, cols)\n"
        "for t in ('mlp', 'logistic_regression', 'svm', 'random_forest'):\n"
        "    s = validate_spec({'model': {'type': t}, 'target': 'y'}, Limits())\n"
        "    check_against_dataset(s, profile, Limits())\n"
        "r = validate_spec({'model': {'type': 'ppo'}, 'environment': {'id': 'CartPole-v1'}},"
        " Limits())\n"
        "check_against_dataset(r, None, Limits())\n"
        "[k.describe() for k in kinds()]\n"
        "bad = [m for m in ('torch', 'sklearn', 'pandas', 'pyarrow') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "banned = ('service', 'workers', 'fastapi', 'sqlalchemy', 'celery', 'starlette')\n"
        "assert not [m for m in banned if m in sys.modules]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


WIDE = DatasetProfile(
    n_rows=100,
    columns=[ColumnProfile(f"column_{i:04d}", "float", 0, 90) for i in range(1000)]
    + [ColumnProfile("label", "string", 0, 2)],
)


def test_unknown_features_against_a_wide_dataset_stay_bounded() -> None:
    # 5,000 unknown names against 1,001 columns: a few entries, each listing a few columns.
    raw = spec(features=[f"nope_{i}" for i in range(5000)])
    with pytest.raises(SpecError) as info:
        check_against_dataset(validate_spec(raw, Limits()), WIDE, Limits())
    errs = info.value.errors
    total = sum(len(str(e)) for e in errs) + len(str(info.value))
    print(f"{len(errs)} entries, {total} characters")
    assert total < 5000
    assert [e["loc"] for e in errs[:5]] == [["features", i] for i in range(5)]
    assert "column 'nope_0' not found" in errs[0]["msg"]
    assert "... and 991 more (1001 columns)" in errs[0]["msg"]
    assert errs[-1]["loc"] == ["features"] and "5000 of the 5000 features" in errs[-1]["msg"]


def test_unknown_target_and_bin_columns_list_few_names() -> None:
    errs = error_of(spec(target="x" * 10_000), WIDE)
    assert len(errs[0]["msg"]) < 1000 and "(1001 columns)" in errs[0]["msg"]
    assert "(10000 characters)" in errs[0]["msg"]
    raw = spec(preprocessing={"binning": "uniform", "bin_columns": [f"b{i}" for i in range(300)]})
    errs = error_of(raw, WIDE)
    assert len(errs) == 6 and sum(len(e["msg"]) for e in errs) < 5000
    assert "(1000 features)" in errs[0]["msg"]


def test_many_structural_errors_are_capped() -> None:
    from mlengine.errors import MAX_ERRORS

    with pytest.raises(SpecError) as info:
        validate_spec(spec(features=list(range(5000))), Limits())
    errs = info.value.errors
    assert len(errs) == MAX_ERRORS
    assert errs[-1]["type"] == "too_many_errors" and "5000 in all" in errs[-1]["msg"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "NaN", "-Infinity"])
def test_fill_value_must_be_finite(value: Any) -> None:
    raw = spec(preprocessing={"impute_numeric": "constant", "fill_value": value})
    with pytest.raises(SpecError) as info:
        validate_spec(raw, Limits())
    (err,) = info.value.errors
    assert err["loc"] == ["preprocessing", "fill_value"]
    assert "fill_value must be a finite number" in err["msg"]
    ok = validate_spec(spec(preprocessing={"fill_value": -1.5}), Limits())
    assert ok.preprocessing.fill_value == -1.5

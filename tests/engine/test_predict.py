"""Mixed-type data end to end; prediction input checks; artifact safety."""

from __future__ import annotations

import io
import json
import zipfile

import pyarrow as pa
import pytest

from mlengine import ArtifactError, InputError, InputTooLarge, Predictor, load_predictor, train
from mlengine.artifact import read_artifact

ROWS = [
    {"age": 30, "income": 42_000.5, "city": "paris", "member": True},
    {"age": None, "income": None, "city": None, "member": None},
    {"age": 70, "income": 90_000, "city": "atlantis", "member": False},  # unseen category
    {"age": 55.0, "income": 1, "city": "nice", "member": True},
]


@pytest.fixture(scope="module", params=["logistic_regression", "mlp"])
def mixed_model(request, mixed: pa.Table):
    spec = {
        "model": {"type": request.param},
        "target": "label",
        "seed": 0,
        "preprocessing": {"impute_categorical": "constant"},
    }
    return train(spec, mixed)


def test_mixed_table_trains_and_predicts(mixed_model) -> None:
    result = mixed_model
    assert result.info.classes == ["no", "yes"]
    assert result.info.inputs == [
        {"name": "age", "dtype": "int"},
        {"name": "income", "dtype": "float"},
        {"name": "city", "dtype": "string"},
        {"name": "member", "dtype": "bool"},
    ]
    assert result.metrics["test_accuracy"] > 0.75
    assert result.extra["split"]["n_dropped_missing_target"] > 0
    pred = load_predictor(result.artifact)
    assert isinstance(pred, Predictor)
    assert pred.columns_in_order() == ["age", "income", "city", "member"]
    out = pred.predict(ROWS)
    assert len(out["predictions"]) == 4
    assert set(out["predictions"]) <= {"no", "yes"}
    assert out["classes"] == ["no", "yes"]
    assert all(len(p) == 2 and abs(sum(p) - 1) < 1e-6 for p in out["probabilities"])
    json.dumps(out)  # plain JSON types
    assert pred.predict([]) == {"predictions": [], "probabilities": [], "classes": ["no", "yes"]}


def test_predictions_match_training_metrics(mixed_model, mixed: pa.Table) -> None:
    pred = load_predictor(mixed_model.artifact)
    rows = mixed.drop_columns(["label"]).to_pylist()
    labels = mixed.column("label").to_pylist()
    out = pred.predict(rows)["predictions"]
    pairs = [(p, t) for p, t in zip(out, labels, strict=True) if t is not None]
    assert sum(p == t for p, t in pairs) / len(pairs) > 0.8


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"income": 1.0, "city": "paris", "member": True}, "row 0: column 'age' is missing"),
        ({**ROWS[0], "zip": "75001"}, "row 0: unknown column 'zip'"),
        ({**ROWS[0], "income": "lots"}, "row 0: column 'income' expects float, got string"),
        ({**ROWS[0], "member": 1}, "row 0: column 'member' expects bool, got int"),
        ({**ROWS[0], "age": 3.5}, "row 0: column 'age' expects int"),
        ({**ROWS[0], "city": 12}, "row 0: column 'city' expects string"),
        ({**ROWS[0], "age": True}, "row 0: column 'age' expects int, got bool"),
    ],
)
def test_input_errors(mixed_model, row: dict, message: str) -> None:
    pred = load_predictor(mixed_model.artifact)
    with pytest.raises(InputError) as info:
        pred.predict([row])
    assert str(info.value).startswith(message)
    assert str(info.value).endswith(
        "expected inputs: age (int), income (float), city (string), member (bool)"
    )


def test_error_names_the_row(mixed_model) -> None:
    pred = load_predictor(mixed_model.artifact)
    with pytest.raises(InputError, match="^row 2: column 'city'"):
        pred.predict([ROWS[0], ROWS[1], {**ROWS[0], "city": ["x"]}])


def test_every_body_form_predicts_what_the_list_does(mixed_model) -> None:
    pred = load_predictor(mixed_model.artifact)
    rows = [ROWS[0], ROWS[3]]
    want = pred.predict(rows)
    cols = pred.columns_in_order()
    values = [[r[c] for c in cols] for r in rows]
    for body in (
        {"records": rows},
        {"dataframe_records": rows, "params": {"ignored": True}},
        {"dataframe_split": {"columns": cols, "data": values}},
        {"instances": values},
        {"inputs": {c: [r[c] for r in rows] for c in cols}},
    ):
        assert pred.predict(body, max_rows=2) == want, body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"observations": [[1.0, 2.0]]}, "this logistic_regression model takes rows"),
        ({"records": []}, "no rows to predict; send at least one"),
        ({"rows": ROWS}, "send exactly one of: records"),
        ({"records": [{**ROWS[0], "zip": "75001"}]}, "row 0: unknown column 'zip'"),
        ({"instances": [[1.0]]}, "row 0 has 1 values; expected 4"),
    ],
)
def test_body_errors_are_about_the_body(mixed_model, body: dict, message: str) -> None:
    pred = load_predictor(mixed_model.artifact)
    message = message.replace("logistic_regression", pred.info.model_type)
    with pytest.raises(InputError) as info:
        pred.predict(body, max_rows=10)
    assert info.value.message.startswith(message) and info.value.loc == ()
    assert not isinstance(info.value, InputTooLarge)


def test_too_many_rows(mixed_model) -> None:
    pred = load_predictor(mixed_model.artifact)
    for body in ({"records": ROWS}, ROWS):
        with pytest.raises(InputTooLarge, match="the limit is 3 .*DESCENT_MAX_PREDICT_ROWS"):
            pred.predict(body, max_rows=3)


def _rewrite(artifact: bytes, name: str, data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(artifact))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            dst.writestr(item.filename, data if item.filename == name else src.read(item))
    return buf.getvalue()


def test_artifact_contents_and_refusals(mixed_model) -> None:
    meta, files = read_artifact(mixed_model.artifact)
    assert meta["format"] == "descent-model" and meta["format_version"] == 1
    assert "preprocess.skops" in files
    assert ("model.safetensors" in files) == (meta["framework"] == "torch")
    with pytest.raises(ArtifactError):
        load_predictor(b"not a zip")
    bad_meta = _rewrite(
        mixed_model.artifact, "meta.json", json.dumps({**meta, "format_version": 99}).encode()
    )
    with pytest.raises(ArtifactError, match="version 99"):
        load_predictor(bad_meta)


def test_untrusted_skops_types_are_refused() -> None:
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    from mlengine.safeio import skops_loads

    data = sio.dumps(FunctionTransformer(func=os.system))
    with pytest.raises(ArtifactError, match="untrusted types: posix.system"):
        skops_loads(data)


HUGE = 10**400


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("income", HUGE, "row 0: column 'income' value is too large for a float"),
        ("income", -HUGE, "row 0: column 'income' value is too large for a float"),
        ("income", 2**1024, "row 0: column 'income' value is too large for a float"),
        ("age", HUGE, "row 0: column 'age' value is too large for an int (int64)"),
        ("age", 2**63, "row 0: column 'age' value is too large for an int (int64)"),
        ("age", -(2**63) - 1, "row 0: column 'age' value is too large for an int (int64)"),
    ],
    ids=[
        "float-400-digits",
        "float-negative",
        "float-2**1024",
        "int-400-digits",
        "int-2**63",
        "int-below-int64",
    ],
)
def test_huge_integers_are_input_errors(mixed_model, column: str, value: int, message: str) -> None:
    pred = load_predictor(mixed_model.artifact)
    with pytest.raises(InputError) as info:
        pred.predict([{**ROWS[0], column: value}])
    assert str(info.value).startswith(message)
    # within the limits they still predict
    assert len(pred.predict([{**ROWS[0], "age": 2**63 - 1, "income": 10**30}])["predictions"]) == 1


def test_huge_integer_in_a_string_column_is_described_briefly(mixed_model) -> None:
    pred = load_predictor(mixed_model.artifact)
    with pytest.raises(InputError) as info:
        pred.predict([{**ROWS[0], "city": 10**5000}])
    assert "expects string, got int" in str(info.value) and len(str(info.value)) < 300


def _wide_predictor(n: int) -> Predictor:
    from mlengine.predictor_tabular import TabularPredictor

    meta = {
        "task": "regression",
        "model_type": "linear_regression",
        "inputs": [{"name": f"feature_{j}", "dtype": "float"} for j in range(n)],
    }
    return TabularPredictor(meta, preprocessor=None, backend=None)  # type: ignore[arg-type]


def test_errors_of_a_wide_model_stay_small() -> None:
    pred = _wide_predictor(1_000)
    row = {f"feature_{j}": 1.0 for j in range(1_000)}
    long_name = "z" * 100_000
    for body in (
        [{**row, long_name: 1.0}],  # unknown column, 100 KB name
        [{k: v for k, v in row.items() if k != "feature_999"}],  # missing column
        [{**row, "feature_5": "x"}],  # wrong type
        {"records": [{**row, "feature_5": "x"}]},
        {"instances": [[1.0, 2.0]]},  # list row of the wrong length
        {"observations": [0]},
        {long_name: [], "records": []},  # unknown body key
    ):
        with pytest.raises(InputError) as info:
            pred.predict(body)
        message = str(info.value)
        assert len(message) < 2_000, (len(message), message[:200])
    with pytest.raises(InputError) as info:
        pred.predict({"instances": [[1.0, 2.0]]})
    assert "... and 990 more (1000 columns; GET /v1/models/{id} lists them)" in str(info.value)
    with pytest.raises(InputError) as info:
        pred.predict([{**row, long_name: 1.0}])
    assert "unknown column 'zzz" in str(info.value) and "(100000 characters)" in str(info.value)
    assert "feature_9 (float), ... and 990 more" in str(info.value)

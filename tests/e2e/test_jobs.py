"""Jobs end to end: submit, run on the real worker, watch metrics and checkpoints, predict."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.conftest import metric_points, wait_for
from tests.data import big_regression_csv, breast_cancer_csv, diabetes_csv, mixed_csv


@pytest.fixture(scope="module")
def cancer(api: httpx.Client) -> dict[str, Any]:
    r = api.post("/v1/datasets", files={"file": ("breast_cancer.csv", breast_cancer_csv())})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def big(api: httpx.Client) -> dict[str, Any]:
    r = api.post("/v1/datasets", files={"file": ("big.csv", big_regression_csv())})
    assert r.status_code == 201, r.text
    return r.json()


def _submit(api: httpx.Client, spec: dict[str, Any], **headers: str) -> dict[str, Any]:
    r = api.post("/v1/jobs", json=spec, headers=headers)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued"
    return job


def test_logistic_regression_trains_and_predicts(api: httpx.Client, cancer: dict[str, Any]) -> None:
    job = _submit(
        api,
        {"dataset_id": cancer["id"], "target": "target", "model": {"type": "logistic_regression"}},
    )
    # Every default is filled in.
    assert job["spec"]["task"] == "classification"
    assert len(job["spec"]["features"]) == 30
    assert job["spec"]["model"]["params"]["C"] == 1.0
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["test_accuracy"] >= 0.94
    assert job["started_at"] and job["finished_at"] and job["progress"]["fraction"] == 1.0

    model = api.get(f"/v1/models/{job['model_id']}").json()
    assert model["job_id"] == job["id"] and model["task"] == "classification"
    assert model["model_type"] == "logistic_regression"
    assert sorted(model["classes"]) == ["benign", "malignant"]
    assert [i["name"] for i in model["inputs"]] == job["spec"]["features"]

    frame = pd.read_csv(io.BytesIO(breast_cancer_csv()))
    features = frame.drop(columns=["target"])
    records = api.post(
        f"/v1/models/{model['id']}/predict",
        json={"records": features.to_dict(orient="records")},
    )
    assert records.status_code == 200, records.text
    out = records.json()
    accuracy = (pd.Series(out["predictions"]) == frame["target"]).mean()
    assert accuracy >= 0.94
    assert len(out["probabilities"][0]) == 2 and out["classes"] == model["classes"]
    split = api.post(
        f"/v1/models/{model['id']}/predict",
        json={
            "dataframe_split": {"columns": list(features.columns), "data": features.values.tolist()}
        },
    ).json()
    assert split["predictions"] == out["predictions"]
    for form in ("instances", "inputs"):
        r = api.post(f"/v1/models/{model['id']}/predict", json={form: features.values[:5].tolist()})
        assert r.json()["predictions"] == out["predictions"][:5]
    r = api.post(
        f"/v1/models/{model['id']}/predict",
        json={"dataframe_records": features.iloc[:5].to_dict(orient="records")},
    )
    assert r.json()["predictions"] == out["predictions"][:5]
    ckpts = api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]
    assert [c["kind"] for c in ckpts] == ["final"]


def test_mlp_trains_with_curves_and_checkpoints(api: httpx.Client, cancer: dict[str, Any]) -> None:
    job = _submit(
        api,
        {
            "dataset_id": cancer["id"],
            "target": "target",
            "model": {"type": "mlp", "params": {"hidden_layers": [32, 16]}},
            "training": {
                "epochs": 20,
                "batch_size": 32,
                "optimizer": "adam",
                "learning_rate": 0.001,
            },
            "device": "auto",
        },
    )
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["test_accuracy"] >= 0.94
    assert job["progress"] == {"fraction": 1.0, "epoch": 20, "epochs": 20}
    losses = metric_points(api, job["id"], name="train_loss")
    assert [p["step"] for p in losses] == list(range(1, 21))
    assert losses[-1]["value"] < losses[0]["value"]
    assert len(metric_points(api, job["id"], name="val_accuracy")) == 20
    later = metric_points(api, job["id"], name="train_loss", after_step=15)
    assert [p["step"] for p in later] == [16, 17, 18, 19, 20]
    kinds = {c["kind"] for c in api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]}
    assert {"periodic", "final"} <= kinds
    ckpt = api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"][0]
    data = api.get(f"/v1/jobs/{job['id']}/checkpoints/{ckpt['id']}/data")
    assert data.status_code == 200 and len(data.content) == ckpt["size_bytes"]

    frame = pd.read_csv(io.BytesIO(breast_cancer_csv()))
    rows = frame.drop(columns=["target"]).to_dict(orient="records")
    out = api.post(f"/v1/models/{job['model_id']}/predict", json={"records": rows}).json()
    assert (pd.Series(out["predictions"]) == frame["target"]).mean() >= 0.94


def test_regression_and_mixed_types(api: httpx.Client) -> None:
    diabetes = api.post("/v1/datasets", files={"file": ("diabetes.csv", diabetes_csv())}).json()
    job = _submit(
        api,
        {
            "dataset_id": diabetes["id"],
            "target": "target",
            "model": {"type": "linear_regression"},
            "seed": 1,  # seed 0 gives the well-known 0.34 split of scikit-learn examples
        },
    )
    assert job["spec"]["task"] == "regression"
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["test_r2"] >= 0.4

    mixed = api.post("/v1/datasets", files={"file": ("mixed.csv", mixed_csv())}).json()
    job = _submit(
        api,
        {
            "dataset_id": mixed["id"],
            "target": "label",
            "model": {"type": "mlp"},
            "training": {"epochs": 30},
        },
    )
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["test_accuracy"] >= 0.75
    rows = [
        {"age": 30, "income": None, "city": "paris", "member": True},
        {"age": 70.5, "income": 80.0, "city": None, "member": False},
        {"age": 50, "income": 40.0, "city": "tokyo", "member": True},  # unseen category
    ]
    r = api.post(f"/v1/models/{job['model_id']}/predict", json={"records": rows})
    assert r.status_code == 200, r.text
    assert set(r.json()["predictions"]) <= {"yes", "no"}


@pytest.mark.parametrize(
    ("patch", "loc", "words"),
    [
        ({"colour": "blue"}, ["body", "colour"], "Extra inputs"),
        ({"model": {"type": "quantum_forest"}}, ["body", "model", "type"], "logistic_regression"),
        (
            {"model": {"type": "mlp", "params": {"layers": [3]}}},
            ["body", "model", "params", "layers"],
            "",
        ),
        ({"training": {"epochs": 5}}, ["body", "training", "epochs"], ""),
        ({"target": "nope"}, ["body", "target"], "column 'nope' not found"),
        ({"features": ["mean_radius", "nope"]}, ["body", "features", 1], "not found"),
        ({"task": "regression", "model": {"type": "mlp"}}, ["body", "target"], "numeric"),
        (
            {"model": {"type": "mlp"}, "training": {"epochs": 10**9}},
            ["body", "training", "epochs"],
            "",
        ),
        (
            {"model": {"type": "mlp", "params": {"hidden_layers": [8000, 8000, 8000]}}},
            ["body", "model", "params", "hidden_layers"],
            "parameters",
        ),
    ],
)
def test_bad_specs_are_422_naming_the_key(
    api: httpx.Client, cancer: dict[str, Any], patch: dict[str, Any], loc: list[Any], words: str
) -> None:
    before = api.get("/v1/jobs", params={"limit": 1000}).json()["items"]
    spec = {
        "dataset_id": cancer["id"],
        "target": "target",
        "model": {"type": "logistic_regression"},
    }
    spec.update(patch)
    r = api.post("/v1/jobs", json=spec)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(e["loc"][: len(loc)] == loc for e in detail), detail
    assert words in str(detail)
    assert api.get("/v1/jobs", params={"limit": 1000}).json()["items"] == before


def test_idempotency_key_returns_the_same_job(api: httpx.Client, cancer: dict[str, Any]) -> None:
    spec = {
        "dataset_id": cancer["id"],
        "target": "target",
        "model": {"type": "logistic_regression"},
    }
    first = _submit(api, spec, **{"Idempotency-Key": "abc-123"})
    again = api.post("/v1/jobs", json=spec, headers={"Idempotency-Key": "abc-123"})
    assert again.status_code == 202 and again.json()["id"] == first["id"]
    wait_for(api, first["id"], ("succeeded", "failed"))


def test_cancel_running_and_queued_jobs(api: httpx.Client, big: dict[str, Any]) -> None:
    long_spec = {
        "dataset_id": big["id"],
        "target": "y",
        "model": {"type": "mlp", "params": {"hidden_layers": [256, 256]}},
        "training": {"epochs": 5000, "batch_size": 16},
    }
    running = _submit(api, long_spec)
    queued = _submit(api, long_spec)  # one worker slot: waits behind the first
    wait_for(api, running["id"], ("running",))
    # A dataset used by a queued or running job cannot be deleted.
    conflict = api.delete(f"/v1/datasets/{big['id']}")
    assert conflict.status_code == 409 and "cancel" in conflict.json()["detail"]

    r = api.post(f"/v1/jobs/{queued['id']}/cancel")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    start = time.monotonic()
    r = api.post(f"/v1/jobs/{running['id']}/cancel")
    assert r.status_code == 202 and r.json()["cancel_requested"]
    job = wait_for(api, running["id"], ("cancelled", "succeeded", "failed"), timeout=60)
    assert job["status"] == "cancelled"
    assert time.monotonic() - start < 15
    assert job["model_id"] is None
    assert api.post(f"/v1/jobs/{running['id']}/cancel").status_code == 409
    time.sleep(2)
    never = api.get(f"/v1/jobs/{queued['id']}").json()
    assert never["status"] == "cancelled" and never["started_at"] is None
    listed = api.get("/v1/jobs", params={"status": "cancelled"}).json()["items"]
    assert {running["id"], queued["id"]} <= {j["id"] for j in listed}


def test_divergence_fails_with_advice(api: httpx.Client, cancer: dict[str, Any]) -> None:
    job = _submit(
        api,
        {
            "dataset_id": cancer["id"],
            "target": "target",
            "task": "classification",
            "model": {"type": "mlp"},
            "training": {"epochs": 20, "optimizer": "sgd", "learning_rate": 10000.0},
        },
    )
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    assert job["status"] == "failed"
    assert job["error"]["type"] == "divergence"
    assert "lower the learning rate" in job["error"]["message"]


def test_prediction_input_errors(api: httpx.Client, cancer: dict[str, Any]) -> None:
    job = _submit(
        api,
        {
            "dataset_id": cancer["id"],
            "target": "target",
            "features": ["mean_radius", "mean_texture"],
            "model": {"type": "logistic_regression"},
        },
    )
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    url = f"/v1/models/{job['model_id']}/predict"
    ok = api.post(url, json={"records": [{"mean_radius": 14.0, "mean_texture": 20}]})
    assert ok.status_code == 200, ok.text
    cases = [
        ({"records": [{"mean_radius": 14.0}]}, "mean_texture"),
        ({"records": [{"mean_radius": 14.0, "mean_texture": 1, "x": 1}]}, "'x'"),
        ({"records": [{"mean_radius": "big", "mean_texture": 1}]}, "mean_radius"),
        ({"dataframe_split": {"columns": [["a"], "b"], "data": [[1, 2]]}}, "strings"),
        ({"instances": [[1.0, 2.0, 3.0]]}, "expected 2"),
        ({"rows": [[1.0, 2.0]]}, "records"),
        ({"records": []}, "at least one"),
    ]
    for body, words in cases:
        r = api.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert words in str(r.json()["detail"]), (body, r.text)
    # 1e999 is valid JSON that parses to infinity.
    r = api.post(
        url,
        content=b'{"records": [{"mean_radius": 1e999, "mean_texture": 1}]}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "mean_radius" in r.text, r.text
    assert api.post("/v1/models/mdl_missing/predict", json={"records": [{}]}).status_code == 404

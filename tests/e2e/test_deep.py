"""Deep kinds end to end: a CNN on an NPZ image upload and an LSTM on an NPZ sequence upload,
trained by the real worker, with their shapes taken from the upload; bad shapes are 422."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import metric_points, wait_for
from tests.data import breast_cancer_csv


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _upload(api: httpx.Client, name: str, data: bytes) -> dict[str, Any]:
    r = api.post("/v1/datasets", files={"file": (name, data)})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def digits(api: httpx.Client) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = d.images[:1000].reshape(-1, 1, 8, 8).astype(np.float32)
    target = d.target[:1000]
    return _upload(api, "digits.npz", _npz(X=images, y=target)), images, target


def test_cnn_on_an_npz_image_upload(api: httpx.Client, digits) -> None:
    ds, images, target = digits
    r = api.post(
        "/v1/jobs",
        json={
            "dataset_id": ds["id"],
            "target": "y",
            "model": {"type": "cnn", "params": {"channels": [8], "dense_layers": [32]}},
            "training": {"epochs": 5, "learning_rate": 0.01, "checkpoint_every": 2},
            "device": "cpu",
        },
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["spec"]["model"]["params"]["input_shape"] == [1, 8, 8]  # from the upload
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["test_accuracy"] >= 0.85
    assert len(metric_points(api, job["id"], name="val_accuracy")) == 5
    kinds = {c["kind"] for c in api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]}
    assert {"periodic", "final"} <= kinds

    model = api.get(f"/v1/models/{job['model_id']}").json()
    assert model["model_type"] == "cnn"
    names = [i["name"] for i in model["inputs"]]
    rows = images[:20].reshape(20, -1).tolist()
    out = api.post(
        f"/v1/models/{model['id']}/predict",
        json={"dataframe_split": {"columns": names, "data": rows}},
    )
    assert out.status_code == 200, out.text
    hits = sum(
        int(p) == int(t) for p, t in zip(out.json()["predictions"], target[:20], strict=True)
    )
    assert hits >= 16


def test_lstm_on_an_npz_sequence_upload(api: httpx.Client) -> None:
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(600, 8, 2)).astype(np.float32)
    y = (seq[:, 0, 0] > 0).astype(np.int64)  # only the first step tells
    ds = _upload(api, "seq.npz", _npz(X=seq, y=y))
    spec = {
        "dataset_id": ds["id"],
        "target": "y",
        "model": {"type": "rnn", "params": {"cell": "lstm", "hidden_size": 16}},
        "training": {"epochs": 12, "learning_rate": 0.02, "batch_size": 32},
        "device": "cpu",
    }
    r = api.post("/v1/jobs", json=spec)
    assert r.status_code == 202, r.text
    assert r.json()["spec"]["model"]["params"]["input_shape"] == [8, 2]
    job = wait_for(api, r.json()["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["test_accuracy"] >= 0.75


def test_bad_shapes_are_refused_before_queueing(api: httpx.Client, digits) -> None:
    ds, _, _ = digits
    cancer = _upload(api, "breast_cancer.csv", breast_cancer_csv())
    bad = [
        (
            {"dataset_id": cancer["id"], "target": "target", "model": {"type": "rnn"}},
            ["body", "model", "params", "input_shape"],
            "[T, F]",
        ),
        (
            {
                "dataset_id": ds["id"],
                "target": "y",
                "model": {"type": "cnn", "params": {"input_shape": [1, 8, 9]}},
            },
            ["body", "model", "params", "input_shape"],
            "72 values",
        ),
        (
            {
                "dataset_id": ds["id"],
                "target": "y",
                "model": {"type": "cnn", "params": {"channels": [4096, 4096]}},
            },
            ["body", "model", "params", "channels"],
            "parameters",
        ),
    ]
    before = len(api.get("/v1/jobs", params={"limit": 1000}).json()["items"])
    for spec, loc, words in bad:
        r = api.post("/v1/jobs", json=spec)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"][0]
        assert detail["loc"] == loc and words in detail["msg"], detail
    assert len(api.get("/v1/jobs", params={"limit": 1000}).json()["items"]) == before


def _final_weights(api: httpx.Client, job_id: str) -> dict[str, Any]:
    from safetensors.torch import load

    ckpts = api.get(f"/v1/jobs/{job_id}/checkpoints").json()["items"]
    final = next(c for c in ckpts if c["kind"] == "final")
    data = api.get(f"/v1/jobs/{job_id}/checkpoints/{final['id']}/data").content
    return {k: v for k, v in load(data).items() if k.startswith("model.")}


def test_transfer_learning_starts_from_another_job(api: httpx.Client) -> None:
    ds = _upload(api, "bc.csv", breast_cancer_csv())
    base = {
        "dataset_id": ds["id"],
        "target": "target",
        "model": {"type": "mlp", "params": {"hidden_layers": [16, 8]}},
        "training": {"epochs": 3, "learning_rate": 0.01},
    }
    source = api.post("/v1/jobs", json=base).json()
    source = wait_for(api, source["id"], ("succeeded", "failed"))
    assert source["status"] == "succeeded", source["error"]
    model = api.get(f"/v1/models/{source['model_id']}").json()
    assert model["info"]["layers"] == ["body.0", "body.1", "head"]

    spec = {**base, "init_from": {"job_id": source["id"], "freeze": ["body.0"]}}
    tuned = api.post("/v1/jobs", json=spec)
    assert tuned.status_code == 202, tuned.text
    tuned_job = wait_for(api, tuned.json()["id"], ("succeeded", "failed"))
    assert tuned_job["status"] == "succeeded", tuned_job["error"]
    assert tuned_job["metrics"]["test_accuracy"] >= 0.9
    # It starts where the source ended, not from scratch.
    first = [
        metric_points(api, j, name="train_loss")[0]["value"]
        for j in (source["id"], tuned_job["id"])
    ]
    assert first[1] < first[0]
    before, after = _final_weights(api, source["id"]), _final_weights(api, tuned_job["id"])
    frozen = [k for k in before if k.startswith("model.body.0.")]
    assert frozen and all(before[k].equal(after[k]) for k in frozen)
    assert not before["model.head.weight"].equal(after["model.head.weight"])

    logistic = api.post(
        "/v1/jobs",
        json={"dataset_id": ds["id"], "target": "target", "model": {"type": "logistic_regression"}},
    ).json()
    wait_for(api, logistic["id"], ("succeeded", "failed"))
    for init_from, words in [
        ({"job_id": "job_missing"}, "not found"),
        ({"job_id": logistic["id"]}, "trained a logistic_regression"),
        ({"job_id": source["id"], "freeze": ["trunk"]}, "trunk"),
    ]:
        r = api.post("/v1/jobs", json={**base, "init_from": init_from})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][:2] == ["body", "init_from"]
        assert words in str(r.json()["detail"]), r.text

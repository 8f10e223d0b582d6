"""Every classical kind end to end through the API: submit, train on the real worker,
read metrics, diagnosis and metric points, predict from raw rows. Jobs are small and are
all submitted up front so that they queue behind each other while the tests wait."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.conftest import wait_for
from tests.data import diabetes_csv, mixed_csv


def _iris_csv() -> bytes:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.copy()
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"]
    frame["species"] = frame.pop("target").map(dict(enumerate(data.target_names)))
    return frame.to_csv(index=False).encode()


def _digits_csv() -> bytes:
    from sklearn.datasets import load_digits

    data = load_digits(as_frame=True)
    frame = data.frame.rename(columns={"target": "digit"})
    return frame.to_csv(index=False).encode()


def _first_rows(csv: bytes, target: str, n: int = 2) -> list[dict[str, Any]]:
    return pd.read_csv(io.BytesIO(csv)).drop(columns=[target]).head(n).to_dict(orient="records")


IRIS_ROWS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3},
]
MIXED_ROWS = [
    {"age": 30, "income": None, "city": "paris", "member": True},
    {"age": 70.5, "income": 80.0, "city": None, "member": False},
]

# name -> (dataset, spec without dataset_id, metric, floor, prediction rows)
JOBS: dict[str, tuple[str, dict[str, Any], str, float, list[dict[str, Any]]]] = {
    "logistic_regression": (
        "iris",
        {
            "target": "species",
            "model": {"type": "logistic_regression", "params": {"multi_class": "ovr"}},
            "split": {"kfold": 5, "test": 0.2},
        },
        "cv_accuracy",
        0.9,
        IRIS_ROWS,
    ),
    "knn": (
        "iris",
        {"target": "species", "model": {"type": "knn"}},
        "test_accuracy",
        0.9,
        IRIS_ROWS,
    ),
    "naive_bayes": (
        "iris",
        {"target": "species", "model": {"type": "naive_bayes"}},
        "test_accuracy",
        0.9,
        IRIS_ROWS,
    ),
    "svm": (  # RBF kernel on digits, as in scikit-learn's own example
        "digits",
        {"target": "digit", "model": {"type": "svm", "params": {"kernel": "rbf"}}},
        "test_accuracy",
        0.96,
        _first_rows(_digits_csv(), "digit"),
    ),
    "decision_tree": (
        "iris",
        {
            "target": "species",
            "model": {"type": "decision_tree", "params": {"max_depth": 3}},
            "split": {"validation": 0.2, "test": 0.2, "learning_curve": 3},
        },
        "test_accuracy",
        0.9,
        IRIS_ROWS,
    ),
    "random_forest": (
        "mixed",
        {"target": "label", "model": {"type": "random_forest", "params": {"n_estimators": 30}}},
        "test_accuracy",
        0.75,
        MIXED_ROWS,
    ),
    "adaboost": (
        "iris",
        {"target": "species", "model": {"type": "adaboost", "params": {"n_estimators": 20}}},
        "test_accuracy",
        0.9,
        IRIS_ROWS,
    ),
    "gradient_boosting": (
        "mixed",
        {
            "target": "label",
            "model": {"type": "gradient_boosting", "params": {"n_estimators": 30}},
            "preprocessing": {"categorical_encoding": "ordinal"},
        },
        "test_accuracy",
        0.75,
        MIXED_ROWS,
    ),
    "linear_regression": (
        "diabetes",
        {"target": "target", "model": {"type": "linear_regression"}, "seed": 1},
        "test_r2",
        0.4,
        _first_rows(diabetes_csv(), "target"),
    ),
    "kmeans": (
        "iris",
        {"target": "species", "model": {"type": "kmeans", "params": {"n_clusters": 3}}},
        "train_ari",
        0.5,
        IRIS_ROWS,
    ),
    "agglomerative": (
        "iris",
        {"target": "species", "model": {"type": "agglomerative", "params": {"n_clusters": 3}}},
        "train_ari",
        0.5,
        IRIS_ROWS,
    ),
    "pca": (
        "iris",
        {"model": {"type": "pca", "params": {"n_components": 0.9}}, "features": list(IRIS_ROWS[0])},
        "train_explained_variance",
        0.9,
        IRIS_ROWS,
    ),
}


@pytest.fixture(scope="module")
def datasets(api: httpx.Client) -> dict[str, str]:
    out = {}
    for name, body in (
        ("iris", _iris_csv()),
        ("mixed", mixed_csv()),
        ("diabetes", diabetes_csv()),
        ("digits", _digits_csv()),
    ):
        r = api.post("/v1/datasets", files={"file": (f"{name}.csv", body)})
        assert r.status_code == 201, r.text
        out[name] = r.json()["id"]
    return out


@pytest.fixture(scope="module")
def submitted(api: httpx.Client, datasets: dict[str, str]) -> dict[str, dict[str, Any]]:
    jobs = {}
    for kind, (dataset, spec, _, _, _) in JOBS.items():
        r = api.post("/v1/jobs", json={"dataset_id": datasets[dataset], **spec})
        assert r.status_code == 202, r.text
        jobs[kind] = r.json()
    return jobs


@pytest.mark.parametrize("kind", list(JOBS))
def test_classical_kind_end_to_end(
    api: httpx.Client, submitted: dict[str, dict[str, Any]], kind: str
) -> None:
    _, spec, metric, floor, rows = JOBS[kind]
    job = wait_for(api, submitted[kind]["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"][metric] >= floor, job["metrics"]
    model = api.get(f"/v1/models/{job['model_id']}").json()
    task = job["spec"]["task"]
    assert model["task"] == task and model["model_type"] == kind
    if task in ("classification", "regression"):
        d = job["diagnosis"]
        assert d["verdict"] in ("high_bias", "high_variance", "good_fit") and d["advice"]
        assert {"train_score", "val_score", "baseline_score"} <= set(d)
    else:
        assert job["diagnosis"] is None and model["classes"] is None
        assert "species" not in [i["name"] for i in model["inputs"]]
    r = api.post(f"/v1/models/{job['model_id']}/predict", json={"records": rows})
    assert r.status_code == 200, r.text
    out = r.json()
    if task == "classification":
        assert out["classes"] == model["classes"]
        assert set(out["predictions"]) <= set(model["classes"])
        if spec["target"] == "species":
            assert out["predictions"] == ["setosa", "virginica"]
        if spec["target"] == "digit":
            assert out["predictions"] == [0, 1]
        cm = model["info"]["confusion_matrix"]
        assert cm["labels"] == model["classes"] and len(cm["test"]) == len(cm["labels"])
    elif task == "regression":
        assert all(isinstance(p, float) for p in out["predictions"])
        assert len(out["predictions"]) == len(rows) and "probabilities" not in out
    elif task == "clustering":
        ids = out["predictions"]
        assert all(isinstance(i, int) for i in ids) and ids[0] != ids[1]
    else:  # decomposition: the projected components
        k = int(job["metrics"]["n_components"])
        assert [len(p) for p in out["predictions"]] == [k, k]


def test_cv_and_learning_curve_points(
    api: httpx.Client, submitted: dict[str, dict[str, Any]]
) -> None:
    cv_job = wait_for(api, submitted["logistic_regression"]["id"], ("succeeded", "failed"))
    points = api.get(f"/v1/jobs/{cv_job['id']}/metrics", params={"name": "cv_accuracy"}).json()
    assert [p["step"] for p in points["items"]] == [1, 2, 3, 4, 5]
    assert "cv_accuracy_std" in cv_job["metrics"]
    lc_job = wait_for(api, submitted["decision_tree"]["id"], ("succeeded", "failed"))
    curve = api.get(
        f"/v1/jobs/{lc_job['id']}/metrics", params={"name": "learning_curve_val_accuracy"}
    ).json()["items"]
    assert len(curve) == 3 and curve[-1]["step"] == 90


@pytest.mark.parametrize(
    ("patch", "loc", "words"),
    [
        (
            {"target": "species", "task": "regression", "model": {"type": "svm"}},
            ["body", "target"],
            "numeric",
        ),
        ({"target": "one", "model": {"type": "knn"}}, ["body", "target"], "at least 2"),
        (
            {"model": {"type": "pca", "params": {"n_components": 9}}},
            ["body", "model", "params", "n_components"],
            "number of features",
        ),
        (
            {"model": {"type": "agglomerative", "params": {"linkage": "centroid"}}},
            ["body", "model", "params", "linkage"],
            "ward",
        ),
    ],
)
def test_bad_classical_specs_are_422(
    api: httpx.Client, patch: dict[str, Any], loc: list[Any], words: str
) -> None:
    frame = pd.read_csv(io.BytesIO(_iris_csv()))
    frame["one"] = "same"
    r = api.post("/v1/datasets", files={"file": ("iris1.csv", frame.to_csv(index=False).encode())})
    dataset = r.json()["id"]
    before = api.get("/v1/jobs", params={"limit": 1000}).json()["items"]
    r = api.post("/v1/jobs", json={"dataset_id": dataset, **patch})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(e["loc"][: len(loc)] == loc for e in detail), detail
    assert words in str(detail)
    assert api.get("/v1/jobs", params={"limit": 1000}).json()["items"] == before

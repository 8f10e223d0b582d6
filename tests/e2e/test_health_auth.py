"""Health, readiness and the owner isolation of every /v1 route."""

from __future__ import annotations

import httpx

from tests.conftest import Stack, wait_for
from tests.data import breast_cancer_csv


def test_health_and_ready(stack: Stack) -> None:
    with stack.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_routes_need_a_token(stack: Stack) -> None:
    with stack.client() as anonymous:
        for path in ("/v1/datasets", "/v1/jobs", "/v1/models"):
            r = anonymous.get(path)
            assert r.status_code == 401
            assert "Bearer" in r.json()["detail"]
    with stack.client("dsk_not-a-real-token") as wrong:
        r = wrong.get("/v1/datasets")
        assert r.status_code == 401
        assert "invalid API token" in r.json()["detail"]


def test_other_owners_resources_are_404(stack: Stack, api: httpx.Client) -> None:
    ds = api.post("/v1/datasets", files={"file": ("bc.csv", breast_cancer_csv())}).json()
    with stack.client(stack.new_token("mallory")) as other:
        assert other.get(f"/v1/datasets/{ds['id']}").status_code == 404
        assert other.get(f"/v1/datasets/{ds['id']}/rows").status_code == 404
        assert other.delete(f"/v1/datasets/{ds['id']}").status_code == 404
        assert all(d["id"] != ds["id"] for d in other.get("/v1/datasets").json()["items"])
        job = other.post(
            "/v1/jobs",
            json={
                "dataset_id": ds["id"],
                "target": "target",
                "model": {"type": "logistic_regression"},
            },
        )
        assert job.status_code == 422
        assert "not found" in job.text
    missing = api.get("/v1/datasets/ds_doesnotexist")
    assert missing.status_code == 404
    assert api.get(f"/v1/datasets/{ds['id']}").status_code == 200


def test_other_owners_jobs_and_models_are_404(stack: Stack, api: httpx.Client) -> None:
    ds = api.post("/v1/datasets", files={"file": ("bc.csv", breast_cancer_csv())}).json()
    job = api.post(
        "/v1/jobs",
        json={"dataset_id": ds["id"], "target": "target", "model": {"type": "logistic_regression"}},
    ).json()
    job = wait_for(api, job["id"], ("succeeded", "failed"))
    ckpt = api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"][0]
    model_id = job["model_id"]
    with stack.client(stack.new_token("eve")) as other:
        for method, path, body in [
            ("GET", f"/v1/jobs/{job['id']}", None),
            ("POST", f"/v1/jobs/{job['id']}/cancel", None),
            ("GET", f"/v1/jobs/{job['id']}/metrics", None),
            ("GET", f"/v1/jobs/{job['id']}/checkpoints", None),
            ("GET", f"/v1/jobs/{job['id']}/checkpoints/{ckpt['id']}/data", None),
            ("GET", f"/v1/models/{model_id}", None),
            ("POST", f"/v1/models/{model_id}/predict", {"records": [{"mean_radius": 1.0}]}),
        ]:
            r = other.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert "not found" in r.json()["detail"]
        assert other.get("/v1/jobs").json()["items"] == []
        assert other.get("/v1/models").json()["items"] == []
        # Nor can another owner start from this job's weights.
        r = other.post(
            "/v1/jobs",
            json={
                "dataset_id": ds["id"],
                "target": "target",
                "model": {"type": "mlp"},
                "init_from": {"job_id": job["id"]},
            },
        )
        assert r.status_code == 422
    assert api.get(f"/v1/jobs/{job['id']}").status_code == 200

"""Health, readiness and the owner isolation of every /v1 route."""

from __future__ import annotations

import httpx

from tests.conftest import Stack
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

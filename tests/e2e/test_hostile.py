"""Hostile requests get a bounded, clear 4xx and leave nothing behind."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx

from tests.conftest import lone_api

QUICK = {
    "model": {"type": "q_learning"},
    "environment": {"id": "FrozenLake-v1"},
    "training": {"total_timesteps": 1_000},
}


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_reused_idempotency_key_with_another_spec_is_a_409(api: httpx.Client) -> None:
    key = {"Idempotency-Key": f"reuse-{os.getpid()}-{id(api)}"}
    first = api.post("/v1/jobs", json=QUICK, headers=key)
    assert first.status_code == 202, first.text
    again = api.post("/v1/jobs", json=QUICK, headers=key)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    before = len(api.get("/v1/jobs", params={"limit": 1000}).json()["items"])
    other = api.post("/v1/jobs", json={**QUICK, "seed": 7}, headers=key)
    assert other.status_code == 409
    assert first.json()["id"] in other.json()["detail"] and "new key" in other.json()["detail"]
    assert len(api.get("/v1/jobs", params={"limit": 1000}).json()["items"]) == before


def test_huge_numbers_in_queries_and_cursors_are_422(api: httpx.Client) -> None:
    job = api.post("/v1/jobs", json=QUICK).json()
    for params in (
        {"after_step": 2**63},
        {"after_step": -(2**64)},
        {"cursor": _cursor([2**70, "x"])},
    ):
        r = api.get(f"/v1/jobs/{job['id']}/metrics", params=params)
        assert r.status_code == 422, (params, r.text)
    r = api.get(f"/v1/jobs/{job['id']}/checkpoints", params={"cursor": _cursor([2**70, "ckpt"])})
    assert r.status_code == 422 and "cursor" in r.text


def test_a_json_body_over_the_limit_is_a_413(api: httpx.Client) -> None:
    before = len(api.get("/v1/jobs", params={"limit": 1000}).json()["items"])
    big = b'{"model": {"type": "q_learning"}, "pad": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    r = api.post("/v1/jobs", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "DESCENT_MAX_JSON_BYTES" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"model": {"type": "q_learning"}, "pad": "'
        for _ in range(10):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    r = api.post("/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "DESCENT_MAX_JSON_BYTES" in r.json()["detail"]
    assert len(api.get("/v1/jobs", params={"limit": 1000}).json()["items"]) == before


def test_failed_authentications_are_rate_limited(tmp_path: Path) -> None:
    with lone_api(tmp_path, {"DESCENT_MAX_AUTH_FAILURES": "3"}) as lone:
        url = f"{lone.base_url}/v1/jobs"
        bad = {"Authorization": "Bearer dsk_wrong"}
        assert [httpx.get(url, headers=bad).status_code for _ in range(3)] == [401] * 3
        r = httpx.get(url, headers=bad)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "DESCENT_MAX_AUTH_FAILURES" in r.json()["detail"]
        # The limit is per client and counts failures only; a good token waits it out too.
        r = httpx.get(url, headers={"Authorization": f"Bearer {lone.token}"})
        assert r.status_code == 429


def test_openapi_declares_the_bearer_scheme(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme", "").lower() == "bearer" for s in schemes.values())
    assert spec["paths"]["/v1/jobs"]["get"]["security"]


def test_docs_work_offline(api: httpx.Client) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        r = api.get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000


def test_a_long_file_name_or_extension_is_a_4xx(api: httpx.Client) -> None:
    before = len(api.get("/v1/datasets", params={"limit": 1000}).json()["items"])
    for name in ("data." + "x" * 300, "d" * 900 + ".csv.bin", "d" * 50_000 + ".csv"):
        r = api.post("/v1/datasets", files={"file": (name, b"a,b\n1,2\n")})
        assert r.status_code in (400, 415), r.text
        assert len(r.text) < 1000 and r.json()["detail"]
    r = api.post("/v1/datasets", files={"file": ("d" * 900 + ".csv", b"a,b\n1,2\n3,4\n")})
    assert r.status_code == 201 and len(r.json()["name"]) <= 500
    assert len(api.get("/v1/datasets", params={"limit": 1000}).json()["items"]) == before + 1

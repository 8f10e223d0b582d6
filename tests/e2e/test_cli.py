"""The command line: `descent serve` on one machine, and /readyz naming what is down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import _base_env, _cli, _free_port, lone_api, spawn, wait_for, wait_http
from tests.data import breast_cancer_csv


@contextmanager
def _serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, str], Path]]:
    """``descent serve`` on a free port: its process, base URL, environment and log."""
    env = _base_env(tmp_path)
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = spawn(["serve", "--port", str(port)], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc, log)
        yield proc, base, env, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_serve_runs_api_and_worker_on_one_machine(tmp_path: Path) -> None:
    with _serving(tmp_path) as (proc, base, env, log):
        keys = subprocess.run(
            _cli("keys", "create", "solo"), env=env, capture_output=True, text=True, check=True
        )
        token = keys.stdout.strip().splitlines()[-1]
        assert token.startswith("dsk_")
        assert (tmp_path / "descent.db").exists()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/readyz").status_code == 200
            ds = api.post("/v1/datasets", files={"file": ("bc.csv", breast_cancer_csv())}).json()
            job = api.post(
                "/v1/jobs",
                json={
                    "dataset_id": ds["id"],
                    "target": "target",
                    "model": {"type": "logistic_regression"},
                },
            ).json()
            done = wait_for(api, job["id"], ("succeeded", "failed"), timeout=120)
            assert done["status"] == "succeeded", done["error"]
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert children, "serve started no worker process"
        # SIGTERM to serve alone: it stops its worker on the way out.
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        for pid in map(int, children):
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not _alive(pid), f"worker {pid} outlived serve"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("setting", "value", "down"),
    [
        ("DESCENT_BROKER_URL", "redis://127.0.0.1:1/0", "broker"),
        ("DESCENT_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none", "database"),
    ],
)
def test_readyz_names_what_does_not_answer(
    tmp_path: Path, setting: str, value: str, down: str
) -> None:
    # A database at the code's schema when it answers, so that only one thing is down.
    with lone_api(tmp_path, {setting: value}, migrate=down != "database") as lone:
        r = httpx.get(f"{lone.base_url}/readyz", timeout=30)
        assert r.status_code == 503
        body = r.json()
        assert body["detail"] == f"the {down} did not answer"
        assert body["checks"][down] != "ok"


def test_openapi_documents_the_contract(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from service.app import create_app; "
            "print(json.dumps(create_app().openapi()))",
        ],
        env=_base_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    spec = out.stdout
    for path in (
        "/v1/datasets",
        "/v1/jobs/{job_id}/cancel",
        "/v1/models/{model_id}/predict",
        "/v1/jobs/{job_id}/metrics",
        "/readyz",
    ):
        assert f'"{path}"' in spec
    assert "multipart/form-data" in spec and "Idempotency-Key".lower() in spec.lower()


def test_serve_restarts_a_worker_that_died(tmp_path: Path) -> None:
    with _serving(tmp_path) as (proc, base, _, log):
        first = _worker_pid(proc.pid)
        assert _ready(base), log.read_text()[-3000:]
        os.killpg(first, signal.SIGKILL)  # the worker and its pool die
        saw_503 = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = httpx.get(f"{base}/readyz", timeout=30)
            if r.status_code == 503:
                saw_503 = True
                assert "worker" in r.json()["detail"], r.json()
            elif saw_503:
                break
            time.sleep(0.1)
        assert saw_503, "readyz never said that the worker was gone"
        assert _ready(base), log.read_text()[-3000:]
        second = _worker_pid(proc.pid)
        assert second != first and not _alive(first)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while _alive(second) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(second), "the restarted worker outlived serve"


def _worker_pid(serve_pid: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = subprocess.run(
            ["pgrep", "-P", str(serve_pid)], capture_output=True, text=True
        ).stdout.split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise AssertionError("serve has no worker process")


def _ready(base: str, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{base}/readyz", timeout=30).status_code == 200:
            return True
        time.sleep(0.2)
    return False


def test_an_unmigrated_database_is_not_ready_and_errors_are_json(tmp_path: Path) -> None:
    with lone_api(tmp_path, migrate=False) as lone:  # no `descent migrate` first
        r = httpx.get(f"{lone.base_url}/readyz", timeout=30)
        assert r.status_code == 503
        assert "descent migrate" in r.json()["detail"] and r.json()["checks"]["database"] != "ok"
        r = httpx.get(
            f"{lone.base_url}/v1/jobs", headers={"Authorization": "Bearer dsk_x"}, timeout=30
        )
        assert r.status_code == 500
        body = r.json()
        rid = body["request_id"]
        assert rid in body["detail"] and r.headers["x-request-id"] == rid
        assert rid in lone.log.read_text()  # logged with the traceback

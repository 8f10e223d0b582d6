"""Test stacks: a real API process and a real Celery worker process over real HTTP.

Two backends: SQLite + the embedded broker (always), and Postgres + Redis (required
when CI=true; skipped with a reason elsewhere when the services do not answer).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

PG_ADMIN_URL = os.environ.get(
    "DESCENT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("DESCENT_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``descent ARGS`` in its own process group, output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            _cli(*args), env=env, stdout=out, stderr=out, start_new_session=True
        )


@dataclass
class Stack:
    name: str
    env: dict[str, str]
    data_dir: Path
    base_url: str = ""
    api: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    worker_logs: list[Path] = field(default_factory=list)

    def run_cli(self, *args: str) -> str:
        out = subprocess.run(_cli(*args), env=self.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def new_token(self, name: str = "tester") -> str:
        return self.run_cli("keys", "create", name).strip().splitlines()[-1]

    def client(self, token: str | None = None, timeout: float = 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def start_api(self) -> None:
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.api = spawn(["api", "--port", str(port)], self.env, self.data_dir / "api.log")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                if self.api.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError(f"API did not start:\n{self.tail('api.log')}")

    def start_worker(self) -> None:
        path = self.data_dir / f"worker-{len(self.worker_logs)}.log"
        self.worker_logs.append(path)
        queues = f"{self.env['DESCENT_DEFAULT_QUEUE']},{self.env['DESCENT_GPU_QUEUE']}"
        self.worker = spawn(["worker", "--queues", queues], self.env, path)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if "ready." in path.read_text(errors="replace"):
                return
            if self.worker.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.tail(path.name)}")

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool children: a machine that died."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=30)
        self.worker = None

    def tail(self, name: str, n: int = 60) -> str:
        path = self.data_dir / name
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""
        )

    def stop(self) -> None:
        for proc in (self.worker, self.api):
            if proc is not None:
                stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM to the main process (Celery's warm shutdown stops its own pool), then
    SIGKILL to the whole group if it has not gone in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _base_env(data_dir: Path) -> dict[str, str]:
    run = secrets.token_hex(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESCENT_")}
    env.update(
        DESCENT_DATA_DIR=str(data_dir),
        DESCENT_DEFAULT_QUEUE=f"test-{run}",
        DESCENT_GPU_QUEUE=f"test-{run}-gpu",
        DESCENT_HEARTBEAT_INTERVAL="0.5",
        DESCENT_HEARTBEAT_TIMEOUT="5",
        DESCENT_REAPER_INTERVAL="1",
        DESCENT_MAX_UPLOAD_BYTES=str(8 * 1024 * 1024),
        DESCENT_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def _postgres_and_redis() -> str | None:
    """None when both answer, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001
        return f"Postgres at {PG_ADMIN_URL} did not answer: {exc}"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {REDIS_URL} did not answer: {exc}"
    return None


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp(f"stack-{request.param}")
    env = _base_env(data_dir)
    with postgres_database() if request.param == "postgres" else nullcontext() as url:
        if url:
            env["DESCENT_DATABASE_URL"] = url
            env["DESCENT_BROKER_URL"] = REDIS_URL
        s = Stack(name=request.param, env=env, data_dir=data_dir)
        try:
            s.run_cli("migrate")
            s.start_api()
            s.start_worker()
            yield s
        finally:
            s.stop()


@contextmanager
def postgres_database(prefix: str = "descent_test") -> Iterator[str]:
    """A new, empty Postgres database (dropped after): its SQLAlchemy URL. Skips the test
    when Postgres or Redis does not answer, except with CI=true, where it fails."""
    why = _postgres_and_redis()
    if why:
        if IN_CI:
            pytest.fail(f"CI=true requires Postgres and Redis: {why}")
        pytest.skip(f"Postgres + Redis tests skipped: {why}")
    import psycopg

    dbname = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{dbname}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def token(stack: Stack) -> str:
    return stack.new_token("alice")


@pytest.fixture(scope="session")
def api(stack: Stack, token: str) -> Iterator[httpx.Client]:
    with stack.client(token) as client:
        yield client


def wait_for(
    client: httpx.Client, job_id: str, statuses: tuple[str, ...], timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still {job.get('status')} after {timeout}s: {job}")


def metric_points(api: httpx.Client, job_id: str, **params: Any) -> list[dict[str, Any]]:
    """Every metric point of a job, page after page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(
            f"/v1/jobs/{job_id}/metrics", params={**params, "limit": 200, "cursor": cursor}
        ).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    """Until ``url`` answers at all; fails with the log's tail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


@dataclass
class LoneApi:
    proc: subprocess.Popen[bytes]
    base_url: str
    token: str | None
    log: Path

    def client(self, timeout: float = 120) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)


@contextmanager
def lone_api(
    data_dir: Path, extra_env: dict[str, str] | None = None, migrate: bool = True
) -> Iterator[LoneApi]:
    """An API process of a test's own (no worker), on SQLite in ``data_dir`` unless
    ``extra_env`` says otherwise; migrated, with a token, when ``migrate``."""
    env = {**_base_env(data_dir), **(extra_env or {})}
    token = None
    if migrate:
        subprocess.run(_cli("migrate"), env=env, check=True, capture_output=True)
        token = subprocess.run(
            _cli("keys", "create", "lone"), env=env, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
    port = _free_port()
    log = data_dir / "api.log"
    proc = spawn(["api", "--port", str(port)], env, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
        yield LoneApi(proc, f"http://127.0.0.1:{port}", token, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

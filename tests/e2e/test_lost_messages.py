"""Jobs are never stranded by a lost message: a broker that restarts empty, or a worker
that took a job's message and died before claiming the job. The broker is real (a Redis
server started and killed here, or the embedded one); so are the API and the worker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import IN_CI, Stack, _base_env, _free_port, wait_for

QUICK = {
    "model": {"type": "q_learning"},
    "environment": {"id": "FrozenLake-v1", "kwargs": {"is_slippery": False}},
    "training": {"total_timesteps": 2_000},
}
LONG = {
    "model": {"type": "q_learning"},
    "environment": {"id": "Taxi-v3"},
    "training": {"total_timesteps": 4_000_000},
}


class RedisServer:
    """A redis-server of the test's own, keeping nothing on disk."""

    def __init__(self, data_dir: Path):
        self.port = _free_port()
        self.data_dir = data_dir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("CI=true requires redis-server for the broker-loss tests")
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()


def _stack(data_dir: Path, broker_url: str | None) -> Stack:
    env = _base_env(data_dir)
    if broker_url:
        env["DESCENT_BROKER_URL"] = broker_url
    stack = Stack(name="lost", env=env, data_dir=data_dir)
    stack.run_cli("migrate")
    stack.start_api()
    return stack


def _submit(api: httpx.Client, spec: dict[str, Any]) -> str:
    r = api.post("/v1/jobs", json=spec)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_a_broker_that_restarts_empty_loses_no_job(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    stack = _stack(tmp_path / "stack", redis_server.url)
    try:
        stack.start_worker()
        with stack.client(stack.new_token()) as api:
            busy = _submit(api, LONG)
            wait_for(api, busy, ("running",), timeout=60)
            queued = [_submit(api, {**QUICK, "seed": i}) for i in range(30)]
            assert all(api.get(f"/v1/jobs/{j}").json()["status"] == "queued" for j in queued)
            redis_server.kill()  # every queued message is gone with it
            redis_server.start()
            assert api.post(f"/v1/jobs/{busy}/cancel").status_code == 202
            wait_for(api, busy, ("cancelled",), timeout=60)
            for job_id in queued:
                job = wait_for(api, job_id, ("succeeded", "failed"), timeout=240)
                assert job["status"] == "succeeded", job
    finally:
        stack.stop()


TAKER = """
import sys, time
from service.queue import get_celery
conn = get_celery().connection_for_read()
queue = conn.SimpleQueue(sys.argv[1])
message = queue.get(block=True, timeout=60)
print("taken", message.payload[0][0], flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_a_message_taken_by_a_worker_that_died_is_sent_again(
    tmp_path: Path, broker: str, request: pytest.FixtureRequest
) -> None:
    broker_url = request.getfixturevalue("redis_server").url if broker == "redis" else None
    stack = _stack(tmp_path / "stack", broker_url)
    try:
        with stack.client(stack.new_token()) as api:
            job_id = _submit(api, QUICK)
            # A process takes the job's message, without acknowledging it, and dies.
            taker = subprocess.Popen(
                [sys.executable, "-c", TAKER, stack.env["DESCENT_DEFAULT_QUEUE"]],
                env=stack.env,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
            assert taker.stdout is not None
            line = taker.stdout.readline().decode()
            assert line.split() == ["taken", job_id], line
            os.killpg(taker.pid, signal.SIGKILL)
            taker.wait(timeout=10)
            assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
            stack.start_worker()
            job = wait_for(api, job_id, ("succeeded", "failed"), timeout=120)
            assert job["status"] == "succeeded", job
            assert job["attempts"] == 1
    finally:
        stack.stop()

"""A worker that dies mid-job, and a task delivered twice."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from service.queue import RUN_JOB_TASK, make_celery
from service.settings import Settings
from tests.conftest import Stack, metric_points, spawn, stop, wait_for
from tests.data import big_regression_csv, breast_cancer_csv


def test_killed_worker_job_resumes_from_checkpoint(stack: Stack, api: httpx.Client) -> None:
    ds = api.post("/v1/datasets", files={"file": ("r.csv", big_regression_csv(n=8000))}).json()
    epochs = 30
    job = api.post(
        "/v1/jobs",
        json={
            "dataset_id": ds["id"],
            "target": "y",
            "model": {"type": "mlp", "params": {"hidden_layers": [128, 128]}},
            "training": {"epochs": epochs, "batch_size": 16, "checkpoint_every": 2},
        },
    ).json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ckpts = api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]
        if any(c["kind"] == "periodic" for c in ckpts):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no periodic checkpoint appeared")
    before = {(p["name"], p["step"]): p["value"] for p in metric_points(api, job["id"])}
    stack.kill_worker()
    assert api.get(f"/v1/jobs/{job['id']}").json()["status"] == "running"
    stack.start_worker()
    done = wait_for(api, job["id"], ("succeeded", "failed"), timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    points = metric_points(api, job["id"])
    keys = [(p["name"], p["step"]) for p in points]
    assert len(keys) == len(set(keys)), "a metric point was written twice"
    assert [p["step"] for p in points if p["name"] == "train_loss"] == list(range(1, epochs + 1))
    resumed_from = max(c["step"] for c in ckpts if c["kind"] == "periodic")
    after = {(p["name"], p["step"]): p["value"] for p in points}
    for (name, step), value in before.items():
        if step <= resumed_from:
            assert after[(name, step)] == value
    worker_logs = "".join(Path(p).read_text() for p in stack.worker_logs)
    assert "resuming from checkpoint" in worker_logs


def test_redelivered_task_does_not_duplicate(stack: Stack, api: httpx.Client) -> None:
    ds = api.post("/v1/datasets", files={"file": ("bc.csv", breast_cancer_csv())}).json()
    job = api.post(
        "/v1/jobs",
        json={
            "dataset_id": ds["id"],
            "target": "target",
            "model": {"type": "mlp"},
            "training": {"epochs": 5},
        },
    ).json()
    done = wait_for(api, job["id"], ("succeeded", "failed"))
    points = metric_points(api, job["id"])
    models = api.get("/v1/models", params={"limit": 1000}).json()["items"]

    env = stack.env
    settings = Settings(
        data_dir=Path(env["DESCENT_DATA_DIR"]),
        broker_url=env.get("DESCENT_BROKER_URL"),
        default_queue=env["DESCENT_DEFAULT_QUEUE"],
    )
    make_celery(settings).send_task(RUN_JOB_TASK, args=[job["id"]], queue=settings.default_queue)
    # A second job queued after the duplicate shows the duplicate has been consumed.
    marker = api.post(
        "/v1/jobs",
        json={"dataset_id": ds["id"], "target": "target", "model": {"type": "logistic_regression"}},
    ).json()
    wait_for(api, marker["id"], ("succeeded", "failed"))
    assert api.get(f"/v1/jobs/{job['id']}").json() == done
    assert metric_points(api, job["id"]) == points
    after = api.get("/v1/models", params={"limit": 1000}).json()["items"]
    assert [m["id"] for m in after if m["job_id"] == job["id"]] == [done["model_id"]]
    assert len(after) == len(models) + 1


def test_duplicate_delivered_while_running_is_skipped(stack: Stack, api: httpx.Client) -> None:
    """A second worker receives the same job while the first runs it: it must not run it."""
    ds = api.post("/v1/datasets", files={"file": ("r.csv", big_regression_csv(n=4000))}).json()
    epochs = 2000  # long enough to still be running when the duplicate arrives; cancelled below
    job = api.post(
        "/v1/jobs",
        json={
            "dataset_id": ds["id"],
            "target": "y",
            "model": {"type": "mlp", "params": {"hidden_layers": [64]}},
            "training": {"epochs": epochs, "batch_size": 16},
        },
    ).json()
    wait_for(api, job["id"], ("running",))
    log = stack.data_dir / "second-worker.log"
    env = stack.env
    queues = f"{env['DESCENT_DEFAULT_QUEUE']},{env['DESCENT_GPU_QUEUE']}"
    second = spawn(["worker", "--queues", queues], env, log)
    try:
        deadline = time.monotonic() + 90
        while "ready." not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline and second.poll() is None, log.read_text()
            time.sleep(0.2)
        settings = Settings(
            data_dir=Path(env["DESCENT_DATA_DIR"]),
            broker_url=env.get("DESCENT_BROKER_URL"),
            default_queue=env["DESCENT_DEFAULT_QUEUE"],
        )
        make_celery(settings).send_task(RUN_JOB_TASK, args=[job["id"]], queue=queues.split(",")[0])
        while f"job {job['id']}: not queued" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert api.get(f"/v1/jobs/{job['id']}").json()["status"] == "running"
    finally:
        stop(second)
    assert api.post(f"/v1/jobs/{job['id']}/cancel").status_code == 202
    done = wait_for(api, job["id"], ("succeeded", "failed", "cancelled"))
    assert done["status"] == "cancelled" and done["attempts"] == 1
    steps = [p["step"] for p in metric_points(api, job["id"], name="train_loss")]
    assert steps == list(range(1, len(steps) + 1)) and steps

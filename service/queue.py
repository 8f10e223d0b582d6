"""The one Celery app's configuration, and how the service hands a job to the queue.

The service enqueues by task name (``send_task``) and never imports ``workers``;
``workers`` registers its tasks on this same app.
"""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from typing import Any

from celery import Celery

from service import embedded_broker
from service.embedded_broker import POLLING_INTERVAL
from service.settings import Settings, get_settings

embedded_broker.install()

RUN_JOB_TASK = "descent.run_job"


def _transport_options(broker_url: str, settings: Settings) -> dict[str, Any]:
    if broker_url.startswith("sqla+"):
        # The embedded broker has no visibility timeout: the reaper requeues lost jobs.
        return {"connect_args": {"timeout": 30}, "polling_interval": POLLING_INTERVAL}
    # Longer than the longest job: Redis redelivers an unacked task after this.
    return {"visibility_timeout": settings.visibility_timeout, "polling_interval": 0.2}


def make_celery(settings: Settings) -> Celery:
    broker_url = settings.resolved_broker_url
    app = Celery("descent", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.default_queue,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(broker_url, settings),
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


@lru_cache
def get_celery() -> Celery:
    return make_celery(get_settings())


def queue_for(device: str, settings: Settings) -> str:
    """``device: cuda`` jobs go to the GPU queue; ``auto`` and ``cpu`` to the default one."""
    return settings.gpu_queue if device == "cuda" else settings.default_queue


def enqueue_job(job_id: str, queue: str) -> None:
    # The task id starts with the job id, so that the queue's contents can be read back
    # (``waiting_jobs``); each send has its own.
    task_id = f"{job_id}.{secrets.token_hex(4)}"
    get_celery().send_task(RUN_JOB_TASK, args=[job_id], queue=queue, task_id=task_id)


def _job_of(payload: str | bytes) -> str | None:
    try:
        task_id = json.loads(payload)["headers"]["id"]
    except (ValueError, KeyError, TypeError):
        return None
    return task_id.rsplit(".", 1)[0] if isinstance(task_id, str) else None


# Kombu's Redis transport keeps a queue's messages in one list per priority step.
_REDIS_PRIORITY_SEP = "\x06\x16"
_REDIS_PRIORITY_STEPS = (0, 3, 6, 9)


@lru_cache
def _embedded_engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url, connect_args={"timeout": 30})


def waiting_jobs(queue: str) -> set[str]:
    """The jobs whose message waits in ``queue``, not yet taken by a worker. A message a
    worker took but has not acknowledged is not waiting: if that job is still queued, the
    worker died before it could claim it. Raises if the broker does not answer."""
    url = get_settings().resolved_broker_url
    if url.startswith("sqla+"):
        from sqlalchemy import text

        with _embedded_engine(url.removeprefix("sqla+")).connect() as conn:
            payloads = conn.execute(
                text(
                    "SELECT m.payload FROM kombu_message m JOIN kombu_queue q "
                    "ON m.queue_id = q.id WHERE q.name = :queue AND m.visible"
                ),
                {"queue": queue},
            ).scalars()
            found = {_job_of(p) for p in payloads}
    else:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5)
        try:
            keys = [queue] + [f"{queue}{_REDIS_PRIORITY_SEP}{p}" for p in _REDIS_PRIORITY_STEPS[1:]]
            found = {_job_of(p) for key in keys for p in client.lrange(key, 0, -1)}
        finally:
            client.close()
    found.discard(None)
    return found  # type: ignore[return-value]


def broker_ok() -> str | None:
    """None when the broker answers, else why not."""
    try:
        with get_celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"{type(exc).__name__}: {exc}"

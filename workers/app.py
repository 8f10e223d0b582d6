"""The Celery app the workers run (``celery -A workers.app worker``)."""

from __future__ import annotations

import threading
from typing import Any

from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

from service.queue import get_celery
from service.reaper import start_reaper
from service.settings import get_settings

app = get_celery()
app.conf.include = ["workers.tasks"]

_stop_reaper = threading.Event()


@worker_init.connect
def _preload(**_: Any) -> None:
    # Import the engine's heavy libraries once, before the pool forks, so that no job
    # pays for them. Nothing here starts threads or touches a device.
    import sklearn.linear_model  # noqa: F401
    import torch  # noqa: F401

    import mlengine.train  # noqa: F401


@worker_process_init.connect
def _size_threads(**_: Any) -> None:
    # Jobs side by side share the cores: torch's pool, and scikit-learn's OpenMP and BLAS.
    threads = get_settings().torch_threads
    if threads > 0:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(limits=threads)


@worker_ready.connect
def _on_ready(**_: Any) -> None:
    # The main worker process watches for jobs whose worker went silent.
    start_reaper(_stop_reaper)


@worker_shutdown.connect
def _on_shutdown(**_: Any) -> None:
    _stop_reaper.set()

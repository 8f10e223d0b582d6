"""A background thread that requeues (or fails) jobs whose worker went silent."""

from __future__ import annotations

import logging
import threading

from service.jobs.service import reap_stale, resend_lost, resend_unsent
from service.queue import enqueue_job
from service.settings import get_settings

log = logging.getLogger("descent.reaper")


def start_reaper(stop: threading.Event) -> threading.Thread:
    settings = get_settings()

    def loop() -> None:
        while not stop.wait(settings.reaper_interval):
            try:
                reap_stale(settings, enqueue_job)
                resend_unsent(settings, enqueue_job)
                resend_lost(settings, enqueue_job)
            except Exception:  # noqa: BLE001 - keep reaping after a passing database error
                log.exception("reaper pass failed")

    thread = threading.Thread(target=loop, name="descent-reaper", daemon=True)
    thread.start()
    return thread

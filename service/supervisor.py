"""``descent serve``'s worker, supervised: started beside the API, started again when it
dies, stopped with ``serve``. ``/readyz`` asks it whether a worker is running."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("descent.serve")

_current: WorkerSupervisor | None = None


def current() -> WorkerSupervisor | None:
    """The supervisor of this process's worker, when the process is ``descent serve``."""
    return _current


class WorkerSupervisor:
    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        preexec_fn: Callable[[], None] | None = None,
        stop_timeout: float = 10.0,
    ):
        self.argv = argv
        self.env = env
        self.preexec_fn = preexec_fn
        self.stop_timeout = stop_timeout
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="descent-serve-worker", daemon=True
        )

    def start(self) -> None:
        global _current
        _current = self
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            # Its own process group, so that stopping it stops its pool children too.
            self._proc = subprocess.Popen(
                self.argv, env=self.env, preexec_fn=self.preexec_fn, start_new_session=True
            )
        log.info("worker started (pid %s)", self._proc.pid)

    def status(self) -> str | None:
        """None while a worker runs, else why there is none."""
        with self._lock:
            proc = self._proc
        if proc is None:
            return "no worker has been started"
        code = proc.poll()
        if code is not None:
            return f"the worker exited ({code}); serve is starting a new one"
        return None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.wait(0.5):
            with self._lock:
                proc = self._proc
            if proc is None or proc.poll() is None:
                continue
            log.error(
                "worker (pid %s) exited with %s; starting a new one", proc.pid, proc.returncode
            )
            self._kill_group(proc)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 30.0)  # a worker that dies at once is not restarted in a loop
            self.restarts += 1
            self._spawn()
            started = time.monotonic()
            while not self._stopping.wait(0.5) and time.monotonic() - started < 60:
                if self._proc is not None and self._proc.poll() is not None:
                    break
            else:
                delay = 1.0  # it ran a minute: the next death starts over

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Warm shutdown (the running job stops at its next checkpoint or is resumed later),
        then, after ``stop_timeout``, the whole process group is killed."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker did not stop in %ss; killing it", self.stop_timeout)
        self._kill_group(proc)
        proc.wait()


def stop_with_parent() -> None:
    """In the worker child: get SIGTERM when ``serve`` dies, however it dies (uvicorn
    re-raises SIGTERM after its shutdown, so ``serve``'s own cleanup may never run)."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)

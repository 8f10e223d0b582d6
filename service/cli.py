"""The ``descent`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from service.settings import get_settings


def _migrate() -> None:
    from service.migrate import upgrade_to_head

    upgrade_to_head()


def _api(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=get_settings().log_level.lower(),
    )


def _worker_argv(queues: str | None, concurrency: int) -> list[str]:
    settings = get_settings()
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "worker",
        "--loglevel",
        settings.log_level,
        "--queues",
        queues or settings.default_queue,
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
    ]


def _torch_threads(concurrency: int) -> int:
    """Jobs running side by side share the cores instead of each taking all of them."""
    configured = get_settings().torch_threads
    return configured if configured > 0 else max(1, (os.cpu_count() or 1) // max(1, concurrency))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="descent", description="Descent model-training service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, then run the API and a worker (one machine)")
    api = sub.add_parser("api", help="run the HTTP API")
    for p in (serve, api):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
    worker = sub.add_parser("worker", help="run a training worker")
    worker.add_argument(
        "--queues", default=None, help="comma-separated queues (default: DESCENT_DEFAULT_QUEUE)"
    )
    worker.add_argument("--concurrency", type=int, default=1, help="jobs at once (default 1)")
    sub.add_parser("migrate", help="bring the database schema to the newest version")
    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key for a new owner; prints the token")
    create.add_argument("name")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command != "migrate":
        logging.getLogger("alembic").setLevel(logging.WARNING)

    if args.command == "migrate":
        _migrate()
        print("database is at the newest schema version")
    elif args.command == "keys":
        from service.auth.keys import create_key
        from service.db import session_scope

        _migrate()
        with session_scope() as session:
            owner, token = create_key(session, args.name)
        print(f"owner {owner.id} ({args.name}); this token is shown once, keep it:")
        print(token)
    elif args.command == "api":
        _api(args.host, args.port)
    elif args.command == "worker":
        os.environ["DESCENT_TORCH_THREADS"] = str(_torch_threads(args.concurrency))
        os.execv(sys.executable, _worker_argv(args.queues, args.concurrency))
    elif args.command == "serve":
        _migrate()
        settings = get_settings()
        # One machine: the worker takes CPU and GPU jobs alike.
        queues = f"{settings.default_queue},{settings.gpu_queue}"
        from service.supervisor import WorkerSupervisor, stop_with_parent

        worker_env = {**os.environ, "DESCENT_TORCH_THREADS": str(_torch_threads(1))}
        supervisor = WorkerSupervisor(_worker_argv(queues, 1), worker_env, stop_with_parent)
        supervisor.start()
        try:
            _api(args.host, args.port)
        finally:
            supervisor.stop()


if __name__ == "__main__":
    main()

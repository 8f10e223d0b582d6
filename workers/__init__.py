"""Celery workers: load a job, run it on the engine, stream metrics and checkpoints back."""

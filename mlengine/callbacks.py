"""The small interface through which a trainer reports to whoever runs it."""

from __future__ import annotations

from typing import Literal

CheckpointKind = Literal["periodic", "best", "final"]


class Callbacks:
    """Base callbacks: override what you need. The engine calls these from the training thread.

    - ``on_metrics(step, values)``: one point per name at ``step`` (an epoch, an episode's
      environment step, a fold, a training-set size for learning curves).
    - ``on_progress(done, total, unit)``: e.g. epochs done out of epochs planned
      (``unit`` is ``epoch`` for nets, ``step`` for classical fits, ``timestep`` for RL).
    - ``on_checkpoint(step, kind, data)``: a resumable checkpoint (safe format bytes).
    - ``should_stop()``: asked between batches / episodes; True stops the run
      (the trainer raises ``TrainingStopped``). Must be cheap: no I/O.
    """

    def on_metrics(self, step: int, values: dict[str, float]) -> None:  # pragma: no cover
        pass

    def on_progress(self, done: int, total: int, unit: str = "epoch") -> None:  # pragma: no cover
        pass

    def on_checkpoint(
        self, step: int, kind: CheckpointKind, data: bytes
    ) -> None:  # pragma: no cover
        pass

    def should_stop(self) -> bool:
        return False


class RecordingCallbacks(Callbacks):
    """Keeps everything in memory: for notebooks and tests."""

    def __init__(self) -> None:
        self.metrics: list[tuple[int, str, float]] = []
        self.progress: list[tuple[int, int]] = []
        self.checkpoints: list[tuple[int, CheckpointKind, bytes]] = []
        self.stop_after_metrics: int | None = None

    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        self.metrics.extend((step, name, float(v)) for name, v in values.items())

    def on_progress(self, done: int, total: int, unit: str = "epoch") -> None:
        self.progress.append((done, total))

    def on_checkpoint(self, step: int, kind: CheckpointKind, data: bytes) -> None:
        self.checkpoints.append((step, kind, data))

    def should_stop(self) -> bool:
        return self.stop_after_metrics is not None and len(self.metrics) >= self.stop_after_metrics

    def series(self, name: str) -> list[float]:
        return [v for _, n, v in self.metrics if n == name]

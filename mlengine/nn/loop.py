"""The supervised training loop for the neural kinds (flat feature rows -> one head).

Read it top to bottom: ``_fit`` sets up (device, seed, tensors, net, maybe ``init_from``
weights and frozen layers, optimizer, schedule) into a ``FitState``, maybe resumes it from
a checkpoint, maybe checks gradients, then runs the epochs. Per epoch (``_Run``): set the
epoch's learning rate, shuffle with a seeded ``randperm``, slice batches, step, accumulate
the loss on the device; evaluate under ``inference_mode``; read every number once (the
one host-device sync of the epoch); report; judge (schedule, best, early stopping);
checkpoint (``_Checkpoints``).

Every net takes ``(N, D)`` rows and reshapes them itself, so the same loop trains
``mlp``, ``cnn``, ``rnn`` and ``transformer``.

Checkpoints: "periodic" every ``checkpoint_every`` epochs; "best" is the state of the
epoch with the best monitored metric (the early-stopping metric, else the validation
loss, else the training loss). It is snapshotted on the device when the metric improves
(a tensor copy, no serialization) and emitted at the next periodic boundary or at the
end, so it costs at most one serialization per ``checkpoint_every`` epochs. "final" at
the end, and when ``should_stop`` stops the run (cancel): the state at the stop, so the
work since the last periodic checkpoint is kept. The returned model is the last
epoch's; with early stopping, the best epoch's.
A checkpoint holds the whole ``FitState`` (``mlengine.nn.state``: model, optimizer,
schedule, early-stopping counters, best epoch and weights, random generators), so a
resumed run continues exactly.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlengine.artifact import (
    MODEL_SAFETENSORS,
    PREPROCESS,
    base_meta,
    info_from_meta,
    write_artifact,
)
from mlengine.context import TrainContext
from mlengine.errors import TrainingError, TrainingStopped
from mlengine.metrics import evaluate
from mlengine.netspec import NetTraining
from mlengine.nn import checkpoint as ckpt
from mlengine.nn.nets import build_net, resolve_device
from mlengine.nn.optim import Schedule, make_optimizer, set_lr
from mlengine.nn.state import FitState, Snapshot
from mlengine.nn.transfer import freeze_layers, init_from_artifact
from mlengine.safeio import skops_dumps
from mlengine.types import TrainResult

if TYPE_CHECKING:
    from mlengine.data import Prepared

EVAL_CHUNK = 65_536
DIVERGENCE_FACTOR = 1e4  # a loss this many times its first batch's value has diverged
GRADCHECK_ROWS = 8

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def head_of(task: str, n_classes: int) -> tuple[str, int]:
    if task == "regression":
        return "regression", 1
    if n_classes == 2:
        return "binary", 1
    return "multiclass", n_classes


def forward_chunks(net: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    if X.shape[0] <= EVAL_CHUNK:
        return net(X)
    return torch.cat([net(X[i : i + EVAL_CHUNK]) for i in range(0, X.shape[0], EVAL_CHUNK)])


def head_outputs(raw: torch.Tensor, config: dict[str, Any]) -> torch.Tensor:
    """Probabilities (classification) or values in the target's units (regression)."""
    if config["head"] == "binary":
        p = torch.sigmoid(raw.squeeze(-1).double())
        return torch.stack([1.0 - p, p], dim=1)
    if config["head"] == "multiclass":
        return torch.softmax(raw.double(), dim=1)
    return raw.squeeze(-1).double() * config["target_std"] + config["target_mean"]


def loss_functions(head: str, loss: str) -> tuple[LossFn, LossFn, bool]:
    """(training objective, per-sample mean for reporting, objective sums over the batch)."""
    if head == "multiclass":
        return F.cross_entropy, F.cross_entropy, False

    def squeezed(fn: Callable[..., torch.Tensor], **kw: Any) -> LossFn:
        return lambda out, y: fn(out.squeeze(-1), y, **kw)

    if head == "binary":
        bce = squeezed(F.binary_cross_entropy_with_logits)
        return bce, bce, False
    if loss == "mae":
        mae = squeezed(F.l1_loss)
        return mae, mae, False
    if loss == "huber":
        hub = squeezed(F.huber_loss, delta=1.0)
        return hub, hub, False
    mse = squeezed(F.mse_loss)
    if loss == "sse":
        return squeezed(F.mse_loss, reduction="sum"), mse, True
    return mse, mse, False


def fit_network(ctx: TrainContext, arch: dict[str, Any], layers: list[str]) -> TrainResult:
    device = resolve_device(ctx.device)
    devices = [device.index] if device.type == "cuda" else []
    # fork_rng: seeding must not leak into the caller's global generators
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(ctx.seed)
        return _fit(ctx, arch, layers, device)


def _fit(
    ctx: TrainContext, arch: dict[str, Any], layers: list[str], device: torch.device
) -> TrainResult:
    """Set up, maybe resume (or check gradients), train the remaining epochs, package."""
    t = ctx.training
    assert isinstance(t, NetTraining)
    config = net_config(ctx, arch)
    X, Y = _tensors(ctx.data, config, device)
    network = _build_network(ctx, config, layers, device)
    state = FitState(
        net=network.net,
        optimizer=make_optimizer(t, network.trainable),
        schedule=Schedule(t.lr_schedule, t.learning_rate, t.epochs),
        generator=torch.Generator(device=device),
    )
    state.generator.manual_seed(ctx.seed)
    run = _Run(ctx, t, config, network, X, Y, device)
    if ctx.resume is not None:
        state.restore(ctx.resume, run.identity)
    elif t.gradient_check:
        state.gradient_check = run.gradient_check()
        ctx.callbacks.on_metrics(0, {"gradient_check_max_rel_error": state.gradient_check})

    start_epoch = state.epoch + 1
    checkpoints = _Checkpoints(ctx, run.identity, emitted=state.best_epoch)
    if not state.done:
        try:
            for epoch in range(start_epoch, t.epochs + 1):
                point = run.epoch(state, epoch)
                if run.end_of_epoch(state, epoch, point, checkpoints):
                    break
        except TrainingStopped:
            checkpoints.stopped(state)  # keep the work since the last checkpoint
            raise
    if state.epoch < start_epoch:  # resumed from a final checkpoint: nothing left to train
        checkpoints.final(state)
    if t.early_stopping is not None and not state.done and state.best_weights is not None:
        state.net.load_state_dict(state.best_weights)  # ran every epoch: return the best
    info: dict[str, Any] = {
        "best_epoch": state.best_epoch,
        "monitor": run.monitor,
        "trainable_parameters": sum(p.numel() for p in network.trainable),
    }
    if t.early_stopping is not None:
        info["early_stopping"] = {"stopped": state.done, "last_epoch": state.epoch}
    if network.transfer is not None:
        info["init_from"] = network.transfer
    return _finish(ctx, state.net, config, layers, X, device, info, state.gradient_check)


def net_config(ctx: TrainContext, arch: dict[str, Any]) -> dict[str, Any]:
    """The network's config (saved in checkpoints and the model): the kind's architecture,
    the input and output sizes, the head, and the standardization of a regression target."""
    d = ctx.data
    head, n_out = head_of(d.task, d.n_classes)
    mean, std = 0.0, 1.0
    if head == "regression":  # train on a standardized target; report in its units
        y_train = d.y["train"]
        mean = float(y_train.mean())
        std = float(y_train.std()) or 1.0
    return {
        **arch,
        "n_inputs": d.n_features,
        "n_outputs": n_out,
        "head": head,
        "target_mean": mean,
        "target_std": std,
    }


def _tensors(
    d: Prepared, config: dict[str, Any], device: torch.device
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Every split's rows (float32) and targets (class indices, 0/1, or standardized)."""
    head, mean, std = config["head"], config["target_mean"], config["target_std"]

    def tensor_x(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)

    def tensor_y(a: np.ndarray) -> torch.Tensor:
        if head == "multiclass":
            return torch.from_numpy(a.astype(np.int64)).to(device)
        if head == "binary":
            return torch.from_numpy(a.astype(np.float32)).to(device)
        return torch.from_numpy(((a - mean) / std).astype(np.float32)).to(device)

    splits = ("train", "val", "test")
    return {s: tensor_x(d.X[s]) for s in splits}, {s: tensor_y(d.y[s]) for s in splits}


@dataclass
class _Network:
    net: nn.Module
    trainable: list[nn.Parameter]
    frozen_bn: list[nn.Module]  # batch-norm layers of frozen parts: kept in eval mode
    transfer: dict[str, Any] | None  # what init_from copied, for the result's info


def _build_network(
    ctx: TrainContext, config: dict[str, Any], layers: list[str], device: torch.device
) -> _Network:
    """The network on the device; with ``init_from``, the source's weights, layers frozen."""
    net = build_net(config).to(device)
    init_spec = getattr(ctx.spec, "init_from", None)
    freeze = list(init_spec.freeze) if init_spec is not None else []
    transfer: dict[str, Any] | None = None
    if ctx.init_from is not None and ctx.resume is None:
        transfer = init_from_artifact(net, config, layers, ctx.init_from, freeze)
    frozen_bn = freeze_layers(net, freeze)
    trainable = [p for p in net.parameters() if p.requires_grad]
    if not trainable:
        raise TrainingError("init_from", "every layer is frozen: nothing left to train")
    return _Network(net=net, trainable=trainable, frozen_bn=frozen_bn, transfer=transfer)


class _Run:
    """What stays fixed during a run (data, batches, loss, precision, monitor) and one
    epoch's work on the ``FitState``: train, evaluate, report, judge, checkpoint."""

    def __init__(
        self,
        ctx: TrainContext,
        t: NetTraining,
        config: dict[str, Any],
        network: _Network,
        X: dict[str, torch.Tensor],
        Y: dict[str, torch.Tensor],
        device: torch.device,
    ):
        self.ctx, self.t, self.config, self.network = ctx, t, config, network
        self.X, self.Y, self.device = X, Y, device
        self.cb = ctx.callbacks
        self.head = str(config["head"])
        self.identity = {"kind": ctx.kind.name, "net": config, "optimizer": t.optimizer}
        self.objective, self.mean_loss, self.sums = loss_functions(
            self.head, str(config.get("loss", "mse"))
        )
        net = network.net
        self.l1_params = [p for p in network.trainable if p.dim() > 1]
        self.has_val = Y["val"].shape[0] > 0
        cuda = device.type == "cuda"
        self.bf16 = cuda and t.mixed_precision == "bf16"
        self.fwd: Callable[[torch.Tensor], torch.Tensor] = net
        if cuda and t.compile:
            self.fwd = torch.compile(net)  # type: ignore[assignment]

        es = t.early_stopping
        monitor = es.metric if es else "val_loss"
        if monitor.startswith("val_") and not self.has_val:
            monitor = "train_loss"
        self.monitor = monitor
        self.maximize = monitor == "val_accuracy"
        self.val_sst = 0.0  # for R^2 on the validation split (standardized units)
        if self.has_val and self.head == "regression":
            self.val_sst = float(((Y["val"] - Y["val"].mean()) ** 2).sum())

        n = X["train"].shape[0]
        self.n = n
        self.bs = max(1, min(t.batch_size, n))
        starts = list(range(0, n, self.bs))
        has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
        if has_bn and len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()  # batch norm cannot train on a batch of one row: skip that row
        self.starts = starts
        self.n_seen = sum(min(self.bs, n - s) for s in starts)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def gradient_check(self) -> float:
        from mlengine.nn.gradcheck import max_relative_error

        rows = min(GRADCHECK_ROWS, self.n)
        objective = self.objective
        return max_relative_error(
            self.network.net,
            lambda m, xb, yb: objective(m(xb), yb),
            self.X["train"][:rows],
            self.Y["train"][:rows],
            self.ctx.seed,
        )

    # ------------------------------------------------------------------ one epoch

    def epoch(self, state: FitState, epoch: int) -> dict[str, float]:
        """Train one epoch, evaluate, report its metric point (one host-device sync)."""
        t0 = time.perf_counter()
        lr = state.schedule.lr(epoch)
        set_lr(state.optimizer, lr)
        total, first = self._train_batches(state, epoch)
        stats = [total / self.n_seen]
        if first is not None and state.ref_loss is None:
            stats.append(first.float())
        values = self._validate(stats)
        train_loss = values.pop(0)
        if state.ref_loss is None:
            state.ref_loss = values.pop(0)
        _check_divergence(train_loss, state.ref_loss, epoch, lr)
        point: dict[str, float] = {"train_loss": train_loss}
        if self.has_val:
            val_loss, score = values
            _check_divergence(val_loss, None, epoch, lr, what="validation loss")
            point["val_loss"] = val_loss
            if self.head == "regression":
                std = self.config["target_std"]
                point["val_mse"] = score / self.Y["val"].shape[0] * std * std
                if self.val_sst > 0:
                    point["val_r2"] = 1.0 - score / self.val_sst
            else:
                point["val_accuracy"] = score
        point["learning_rate"] = lr
        point["epoch_seconds"] = time.perf_counter() - t0
        self.cb.on_metrics(epoch, point)
        state.epoch = epoch
        return point

    def _train_batches(
        self, state: FitState, epoch: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One pass over the training rows, shuffled with the run's generator: the summed
        loss (on the device) and the first batch's mean loss."""
        net, X, Y = state.net, self.X["train"], self.Y["train"]
        net.train()
        for m in self.network.frozen_bn:
            m.eval()
        if self.bs < self.n:
            perm = torch.randperm(self.n, generator=state.generator, device=self.device)
            xs, ys = X[perm], Y[perm]
        else:
            xs, ys = X, Y
        total = torch.zeros((), device=self.device)
        first: torch.Tensor | None = None
        for batch, start in enumerate(self.starts):
            if self.cb.should_stop():
                raise TrainingStopped(f"stopped in epoch {epoch}, before batch {batch + 1}")
            xb, yb = xs[start : start + self.bs], ys[start : start + self.bs]
            loss = self._step(state.optimizer, xb, yb)
            total.add_(loss, alpha=1 if self.sums else xb.shape[0])
            if first is None:
                first = loss / xb.shape[0] if self.sums else loss
        return total, first

    def _batch_objective(
        self, xb: torch.Tensor, yb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss, the loss plus the L1 penalty: what is minimized)."""
        if self.bf16:
            with self.autocast():
                loss = self.objective(self.fwd(xb), yb)
        else:
            loss = self.objective(self.fwd(xb), yb)
        total = loss
        if self.t.l1 > 0:
            total = total + self.t.l1 * torch.stack([p.abs().sum() for p in self.l1_params]).sum()
        return loss, total

    def _step(
        self, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor
    ) -> torch.Tensor:
        """One optimizer step on a batch; its (detached) loss."""
        clip, trainable = self.t.grad_clip, self.network.trainable
        if self.t.optimizer == "lbfgs":
            losses: list[torch.Tensor] = []

            def closure() -> torch.Tensor:
                optimizer.zero_grad(set_to_none=True)
                loss, obj = self._batch_objective(xb, yb)
                obj.backward()
                if clip is not None:
                    nn.utils.clip_grad_norm_(trainable, clip)
                losses.append(loss.detach())
                return obj

            optimizer.step(closure)  # type: ignore[arg-type]
            return losses[0]
        optimizer.zero_grad(set_to_none=True)
        loss, obj = self._batch_objective(xb, yb)
        obj.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(trainable, clip, foreach=True)
        optimizer.step()
        return loss.detach()

    def _validate(self, stats: list[torch.Tensor]) -> list[float]:
        """``stats`` and the validation loss and score, read back in one sync."""
        self.network.net.eval()
        with torch.inference_mode():
            if self.has_val:
                Yv = self.Y["val"]
                with self.autocast():
                    out = forward_chunks(self.fwd, self.X["val"]).float()
                stats.append(self.mean_loss(out, Yv))
                if self.head == "multiclass":
                    stats.append((out.argmax(1) == Yv).float().mean())
                elif self.head == "binary":
                    stats.append(((out.squeeze(-1) > 0).float() == Yv).float().mean())
                else:
                    stats.append(((out.squeeze(-1) - Yv) ** 2).sum())
            values: list[float] = torch.stack([s.float() for s in stats]).tolist()
        return values

    def end_of_epoch(
        self, state: FitState, epoch: int, point: dict[str, float], checkpoints: _Checkpoints
    ) -> bool:
        """Judge the epoch (schedule, best, early stopping) and checkpoint; True: stop."""
        es = self.t.early_stopping
        value = point[self.monitor]
        monitor = -value if self.maximize else value
        state.schedule.observe(epoch, point["val_loss"] if self.has_val else point["train_loss"])
        margin = es.min_delta if es else 0.0
        if monitor < state.best_loss - margin:
            state.best_loss, state.best_epoch, state.bad_epochs = monitor, epoch, 0
            if es is not None:
                state.best_weights = {
                    k: v.detach().clone() for k, v in state.net.state_dict().items()
                }
            checkpoints.improved(state)
        else:
            state.bad_epochs += 1
        stop = es is not None and state.bad_epochs >= es.patience and epoch < self.t.epochs
        if stop and state.best_weights is not None:
            state.net.load_state_dict(state.best_weights)  # keep the best epoch's weights
        state.done = stop
        checkpoints.end_of_epoch(state, last=epoch == self.t.epochs or stop)
        self.cb.on_progress(epoch, self.t.epochs)
        return stop


class _Checkpoints:
    """When checkpoints are emitted: "periodic" every ``checkpoint_every`` epochs; "best"
    (snapshotted on the device when the monitored metric improves) at the next periodic
    boundary or at the end; "final" at the end."""

    def __init__(self, ctx: TrainContext, identity: dict[str, Any], emitted: int):
        self.cb = ctx.callbacks
        t = ctx.training
        assert isinstance(t, NetTraining)
        self.every = t.checkpoint_every
        self.identity = identity
        self.best_emitted = emitted  # the epoch of the last "best" emitted
        self.best: Snapshot | None = None

    def improved(self, state: FitState) -> None:
        self.best = state.snapshot(self.identity)

    def end_of_epoch(self, state: FitState, last: bool) -> None:
        epoch = state.epoch
        boundary = self.every > 0 and epoch % self.every == 0 and not last
        if not (boundary or last):
            return
        current = ckpt.encode(state.snapshot(self.identity))
        if boundary:
            self.cb.on_checkpoint(epoch, "periodic", current)
        if self.best is not None and state.best_epoch > self.best_emitted:
            # when the best epoch is this one, its state is the current one
            same = state.best_epoch == epoch and not state.done
            self.cb.on_checkpoint(
                state.best_epoch, "best", current if same else ckpt.encode(self.best)
            )
            self.best_emitted, self.best = state.best_epoch, None
        if last:
            self.cb.on_checkpoint(epoch, "final", current)

    def stopped(self, state: FitState) -> None:
        """``should_stop`` ended the run: the pending "best", then "final" at the stop.

        The "final" one holds the weights as they are when the run stopped (within an epoch,
        some of its batches trained) under the last completed epoch: a run resumed from it
        continues with the next epoch, which runs in full."""
        current = ckpt.encode(state.snapshot(self.identity))
        if self.best is not None and state.best_epoch > self.best_emitted:
            self.cb.on_checkpoint(state.best_epoch, "best", ckpt.encode(self.best))
            self.best_emitted, self.best = state.best_epoch, None
        self.cb.on_checkpoint(state.epoch, "final", current)

    def final(self, state: FitState) -> None:
        self.cb.on_checkpoint(state.epoch, "final", ckpt.encode(state.snapshot(self.identity)))


def _check_divergence(
    loss: float, ref: float | None, epoch: int, lr: float, what: str = "loss"
) -> None:
    if math.isnan(loss) or math.isinf(loss):
        word = "NaN" if math.isnan(loss) else "infinite"
        raise TrainingError(
            "divergence",
            f"{what} became {word} at epoch {epoch}; lower the learning rate (now {lr!r})",
        )
    if ref is not None and ref > 0 and loss > DIVERGENCE_FACTOR * ref:
        raise TrainingError(
            "divergence",
            f"{what} grew from {ref:.3g} to {loss:.3g} by epoch {epoch}; "
            f"lower the learning rate (now {lr!r})",
        )


def _finish(
    ctx: TrainContext,
    net: nn.Module,
    config: dict[str, Any],
    layers: list[str],
    X: dict[str, torch.Tensor],
    device: torch.device,
    info: dict[str, Any],
    grad_error: float | None,
) -> TrainResult:
    from safetensors.torch import save

    d = ctx.data
    net.eval()
    outputs = {}
    with torch.inference_mode():
        for s in d.splits():
            out = head_outputs(forward_chunks(net, X[s]).float(), config)
            outputs[s] = (d.y[s], out.cpu().numpy())
    metrics = evaluate(d.task, outputs, d.n_classes)
    if grad_error is not None:
        metrics["gradient_check_max_rel_error"] = float(grad_error)
    weights = save({k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()})
    meta = base_meta(ctx, "torch", net=config)
    meta["versions"]["torch"] = torch.__version__
    meta["extra"].update(
        architecture=config["arch"],
        layers=layers,
        parameters=sum(p.numel() for p in net.parameters()),
    )
    if "input_shape" in config:
        meta["extra"]["input_shape"] = config["input_shape"]
    artifact = write_artifact(
        meta, {PREPROCESS: skops_dumps(d.preprocessor), MODEL_SAFETENSORS: weights}
    )
    extra = {"split": d.split_info, "device": str(device), **info}
    if d.task in ("classification", "regression"):
        from mlengine.evaluation import diagnose

        extra["diagnosis"] = diagnose(ctx, metrics)
    return TrainResult(metrics=metrics, artifact=artifact, info=info_from_meta(meta), extra=extra)

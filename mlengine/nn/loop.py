"""The supervised training loop for the neural kinds (flat feature rows -> one head).

Read it top to bottom: set up (device, seed, tensors, net, maybe ``init_from`` weights and
frozen layers, optimizer, schedule), maybe resume, maybe check gradients, then per epoch:
set the epoch's learning rate, shuffle with a seeded ``randperm``, slice batches, step,
accumulate the loss on the device; evaluate under ``inference_mode``; read every number
once (the one host-device sync of the epoch); report; early-stop; checkpoint.

Every net takes ``(N, D)`` rows and reshapes them itself, so the same loop trains
``mlp``, ``cnn``, ``rnn`` and ``transformer``.

Checkpoints: "periodic" every ``checkpoint_every`` epochs; "best" is the state of the
epoch with the best monitored metric (the early-stopping metric, else the validation
loss, else the training loss). It is snapshotted on the device when the metric improves
(a tensor copy, no serialization) and emitted at the next periodic boundary or at the
end, so it costs at most one serialization per ``checkpoint_every`` epochs. "final" at
the end. The returned model is the last epoch's; with early stopping, the best epoch's.
Checkpoints hold the model, the optimizer, the schedule and early-stopping state and
the random generators, so a resumed run continues exactly.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

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
from mlengine.errors import ArtifactError, TrainingError, TrainingStopped
from mlengine.metrics import evaluate
from mlengine.netspec import NetTraining
from mlengine.nn import checkpoint as ckpt
from mlengine.nn.nets import build_net, resolve_device
from mlengine.nn.optim import Schedule, make_optimizer, set_lr
from mlengine.nn.transfer import freeze_layers, init_from_artifact
from mlengine.safeio import skops_dumps
from mlengine.types import TrainResult

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
    d = ctx.data
    t = ctx.training
    assert isinstance(t, NetTraining)
    cb = ctx.callbacks
    head, n_out = head_of(d.task, d.n_classes)

    y_train = d.y["train"]
    mean, std = 0.0, 1.0
    if head == "regression":  # train on a standardized target; report in its units
        mean = float(y_train.mean())
        std = float(y_train.std()) or 1.0
    config = {
        **arch,
        "n_inputs": d.n_features,
        "n_outputs": n_out,
        "head": head,
        "target_mean": mean,
        "target_std": std,
    }

    def tensor_x(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)

    def tensor_y(a: np.ndarray) -> torch.Tensor:
        if head == "multiclass":
            return torch.from_numpy(a.astype(np.int64)).to(device)
        if head == "binary":
            return torch.from_numpy(a.astype(np.float32)).to(device)
        return torch.from_numpy(((a - mean) / std).astype(np.float32)).to(device)

    X = {s: tensor_x(d.X[s]) for s in ("train", "val", "test")}
    Y = {s: tensor_y(d.y[s]) for s in ("train", "val", "test")}
    n = X["train"].shape[0]
    has_val = Y["val"].shape[0] > 0

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
    l1_params = [p for p in trainable if p.dim() > 1]
    optimizer = make_optimizer(t, trainable)
    schedule = Schedule(t.lr_schedule, t.learning_rate, t.epochs)
    objective, mean_loss, sums = loss_functions(head, str(config.get("loss", "mse")))
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())

    cuda = device.type == "cuda"
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    if cuda and t.mixed_precision == "bf16":

        def autocast() -> contextlib.AbstractContextManager[Any]:
            return torch.autocast("cuda", dtype=torch.bfloat16)

    fwd: Callable[[torch.Tensor], torch.Tensor] = net
    if cuda and t.compile:
        fwd = torch.compile(net)  # type: ignore[assignment]

    plain = autocast is contextlib.nullcontext

    def batch_objective(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if plain:
            loss = objective(fwd(xb), yb)
        else:
            with autocast():
                loss = objective(fwd(xb), yb)
        total = loss
        if t.l1 > 0:
            total = total + t.l1 * torch.stack([p.abs().sum() for p in l1_params]).sum()
        return loss, total

    gen = torch.Generator(device=device)
    gen.manual_seed(ctx.seed)

    es = t.early_stopping
    monitor_name = es.metric if es else "val_loss"
    if monitor_name.startswith("val_") and not has_val:
        monitor_name = "train_loss"
    maximize = monitor_name == "val_accuracy"
    start_epoch = 1
    best_loss, best_epoch, best_emitted = math.inf, 0, 0
    ref_loss: float | None = None
    bad_epochs = 0
    done = False
    best_weights: dict[str, torch.Tensor] | None = None
    grad_error: float | None = None
    if ctx.resume is not None:
        r = _restore(ctx, config, net, optimizer, gen, device)
        start_epoch, best_loss, best_epoch, ref_loss = (
            r["start"],
            r["best"],
            r["best_epoch"],
            r["ref_loss"],
        )
        best_emitted = best_epoch
        schedule.state = r["schedule"]
        bad_epochs, done, best_weights = r["bad_epochs"], r["done"], r["best_weights"]
        grad_error = r["gradient_check"]
    elif t.gradient_check:
        from mlengine.nn.gradcheck import max_relative_error

        rows = min(GRADCHECK_ROWS, n)
        grad_error = max_relative_error(
            net,
            lambda m, xb, yb: objective(m(xb), yb),
            X["train"][:rows],
            Y["train"][:rows],
            ctx.seed,
        )
        cb.on_metrics(0, {"gradient_check_max_rel_error": grad_error})

    def state_of(epoch_done: bool) -> dict[str, Any]:
        return {
            "kind": ctx.kind.name,
            "net": config,
            "optimizer": t.optimizer,
            "best": {"loss": best_loss if math.isfinite(best_loss) else None, "epoch": best_epoch},
            "ref_loss": ref_loss,
            "schedule": schedule.state,
            "early_stopping": {"bad_epochs": bad_epochs, "done": epoch_done},
            "gradient_check": grad_error,
        }

    def snapshot(epoch: int, epoch_done: bool = False) -> tuple[dict[str, torch.Tensor], Any]:
        extra = None
        if best_weights is not None:
            extra = {f"best.{k}": v for k, v in best_weights.items()}
        return ckpt.capture(net, optimizer, gen, epoch, state_of(epoch_done), extra)

    val_sst = 0.0  # for R^2 on the validation split (standardized units)
    if has_val and head == "regression":
        val_sst = float(((Y["val"] - Y["val"].mean()) ** 2).sum())

    epochs = t.epochs
    bs = max(1, min(t.batch_size, n))
    starts = list(range(0, n, bs))
    if has_bn and len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()  # batch norm cannot train on a batch of one row: skip that row
    n_seen = sum(min(bs, n - s) for s in starts)
    lbfgs = t.optimizer == "lbfgs"
    best_snapshot = None
    last_epoch = start_epoch - 1
    for epoch in range(start_epoch, epochs + 1 if not done else start_epoch):
        t0 = time.perf_counter()
        lr = schedule.lr(epoch)
        set_lr(optimizer, lr)
        net.train()
        for m in frozen_bn:
            m.eval()
        if bs < n:
            perm = torch.randperm(n, generator=gen, device=device)
            xs, ys = X["train"][perm], Y["train"][perm]
        else:
            xs, ys = X["train"], Y["train"]
        total = torch.zeros((), device=device)
        first: torch.Tensor | None = None
        for batch, start in enumerate(starts):
            if cb.should_stop():
                raise TrainingStopped(f"stopped in epoch {epoch}, before batch {batch + 1}")
            xb, yb = xs[start : start + bs], ys[start : start + bs]
            if lbfgs:
                losses: list[torch.Tensor] = []

                def closure(
                    xb: torch.Tensor = xb,
                    yb: torch.Tensor = yb,
                    losses: list[torch.Tensor] = losses,
                ) -> torch.Tensor:
                    optimizer.zero_grad(set_to_none=True)
                    loss, obj = batch_objective(xb, yb)
                    obj.backward()
                    if t.grad_clip is not None:
                        nn.utils.clip_grad_norm_(trainable, t.grad_clip)
                    losses.append(loss.detach())
                    return obj

                optimizer.step(closure)  # type: ignore[arg-type]
                loss = losses[0]
            else:
                optimizer.zero_grad(set_to_none=True)
                loss, obj = batch_objective(xb, yb)
                obj.backward()
                if t.grad_clip is not None:
                    nn.utils.clip_grad_norm_(trainable, t.grad_clip, foreach=True)
                optimizer.step()
                loss = loss.detach()
            total.add_(loss, alpha=1 if sums else xb.shape[0])
            if first is None:
                first = loss / xb.shape[0] if sums else loss

        stats = [total / n_seen]
        if first is not None and ref_loss is None:
            stats.append(first.float())
        net.eval()
        with torch.inference_mode():
            if has_val:
                with autocast():
                    out = forward_chunks(fwd, X["val"]).float()
                stats.append(mean_loss(out, Y["val"]))
                if head == "multiclass":
                    stats.append((out.argmax(1) == Y["val"]).float().mean())
                elif head == "binary":
                    stats.append(((out.squeeze(-1) > 0).float() == Y["val"]).float().mean())
                else:
                    stats.append(((out.squeeze(-1) - Y["val"]) ** 2).sum())
            values = torch.stack([s.float() for s in stats]).tolist()  # the one sync per epoch

        train_loss = values.pop(0)
        if ref_loss is None:
            ref_loss = values.pop(0)
        _check_divergence(train_loss, ref_loss, epoch, lr)
        point: dict[str, float] = {"train_loss": train_loss}
        if has_val:
            val_loss, score = values
            _check_divergence(val_loss, None, epoch, lr, what="validation loss")
            point["val_loss"] = val_loss
            if head == "regression":
                point["val_mse"] = score / Y["val"].shape[0] * std * std
                if val_sst > 0:
                    point["val_r2"] = 1.0 - score / val_sst
            else:
                point["val_accuracy"] = score
        point["learning_rate"] = lr
        point["epoch_seconds"] = time.perf_counter() - t0
        cb.on_metrics(epoch, point)
        last_epoch = epoch

        value = point[monitor_name]
        monitor = -value if maximize else value
        schedule.observe(epoch, point["val_loss"] if has_val else train_loss)
        margin = es.min_delta if es else 0.0
        if monitor < best_loss - margin:
            best_loss, best_epoch, bad_epochs = monitor, epoch, 0
            if es is not None:
                best_weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
            best_snapshot = snapshot(epoch)
        else:
            bad_epochs += 1
        stop = es is not None and bad_epochs >= es.patience and epoch < epochs
        last = epoch == epochs or stop
        if stop and best_weights is not None:
            net.load_state_dict(best_weights)  # keep the best epoch's weights
        boundary = t.checkpoint_every > 0 and epoch % t.checkpoint_every == 0 and not last
        current = ckpt.encode(snapshot(epoch, stop)) if boundary or last else b""
        if boundary:
            cb.on_checkpoint(epoch, "periodic", current)
        if (boundary or last) and best_snapshot is not None and best_epoch > best_emitted:
            # when the best epoch is this one, its state is the current one
            data = current if best_epoch == epoch and not stop else ckpt.encode(best_snapshot)
            cb.on_checkpoint(best_epoch, "best", data)
            best_emitted, best_snapshot = best_epoch, None
        if last:
            cb.on_checkpoint(epoch, "final", current)
        cb.on_progress(epoch, epochs)
        if stop:
            done = True
            break

    if last_epoch < start_epoch:  # resumed from a final checkpoint: nothing left to train
        cb.on_checkpoint(start_epoch - 1, "final", ckpt.encode(snapshot(start_epoch - 1, done)))
    if es is not None and not done and best_weights is not None:
        net.load_state_dict(best_weights)  # ran every epoch: still return the best weights
    info: dict[str, Any] = {
        "best_epoch": best_epoch,
        "monitor": monitor_name,
        "trainable_parameters": sum(p.numel() for p in trainable),
    }
    if es is not None:
        info["early_stopping"] = {"stopped": done, "last_epoch": max(last_epoch, start_epoch - 1)}
    if transfer is not None:
        info["init_from"] = transfer
    return _finish(ctx, net, config, layers, X, device, info, grad_error)


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


def _restore(
    ctx: TrainContext,
    config: dict[str, Any],
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    gen: torch.Generator,
    device: torch.device,
) -> dict[str, Any]:
    assert ctx.resume is not None
    try:
        tensors, meta = ckpt.decode(ctx.resume)
    except (ArtifactError, ValueError) as exc:
        raise TrainingError("resume", f"cannot resume from this checkpoint: {exc}") from exc
    t = ctx.training
    assert isinstance(t, NetTraining)
    same_net = json.loads(json.dumps(meta.get("net"))) == json.loads(json.dumps(config))
    if meta.get("kind") != ctx.kind.name or not same_net or meta.get("optimizer") != t.optimizer:
        raise TrainingError(
            "resume",
            "the checkpoint was made by a different model, data or optimizer than this job's",
        )
    net.load_state_dict(
        {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    )
    optimizer.load_state_dict(ckpt.optimizer_state(optimizer, tensors, meta))
    torch.set_rng_state(tensors["rng.cpu"])
    if meta.get("device") == device.type:
        gen.set_state(tensors["rng.perm"])
        if device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    best = meta.get("best") or {}
    best_loss = best.get("loss")
    stopping = meta.get("early_stopping") or {}
    best_weights = {
        k[len("best.") :]: v.to(device) for k, v in tensors.items() if k.startswith("best.")
    }
    schedule = meta.get("schedule") or {"scale": 1.0, "best": None, "bad": 0}
    return {
        "start": int(meta["epoch"]) + 1,
        "best": math.inf if best_loss is None else float(best_loss),
        "best_epoch": int(best.get("epoch") or 0),
        "ref_loss": meta.get("ref_loss"),
        "schedule": dict(schedule),
        "bad_epochs": int(stopping.get("bad_epochs") or 0),
        "done": bool(stopping.get("done")),
        "best_weights": best_weights or None,
        "gradient_check": meta.get("gradient_check"),
    }


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

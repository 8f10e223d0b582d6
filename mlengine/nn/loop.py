"""The supervised training loop for the neural kinds (tabular features -> one head).

Read it top to bottom: set up (device, seed, tensors, net, optimizer), maybe resume,
then per epoch: shuffle with a seeded ``randperm``, slice batches, step, accumulate the
loss on the device; evaluate; read every number once; report; checkpoint.

Checkpoints: "periodic" every ``checkpoint_every`` epochs; "best" is the state of the
epoch with the lowest validation loss (training loss without a validation split). It is
snapshotted on the device when the loss improves (a tensor copy, no serialization) and
emitted at the next periodic boundary or at the end, so it costs at most one
serialization per ``checkpoint_every`` epochs. "final" at the end. The returned model is
the last epoch's, not the best one.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
import torch
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
from mlengine.kinds.mlp import NetTraining
from mlengine.metrics import evaluate
from mlengine.nn import checkpoint as ckpt
from mlengine.nn.nets import build_net, resolve_device
from mlengine.safeio import skops_dumps
from mlengine.types import TrainResult

EVAL_CHUNK = 65_536
DIVERGENCE_FACTOR = 1e6


def head_of(task: str, n_classes: int) -> tuple[str, int]:
    if task == "regression":
        return "regression", 1
    if n_classes == 2:
        return "binary", 1
    return "multiclass", n_classes


def forward_chunks(net: nn.Module, X: torch.Tensor) -> torch.Tensor:
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


def _make_optimizer(name: str, params: Any, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.SGD(params, lr=lr)


def fit_network(ctx: TrainContext, arch: dict[str, Any]) -> TrainResult:
    device = resolve_device(ctx.device)
    devices = [device.index] if device.type == "cuda" else []
    # fork_rng: seeding must not leak into the caller's global generators
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(ctx.seed)
        return _fit(ctx, arch, device)


def _fit(ctx: TrainContext, arch: dict[str, Any], device: torch.device) -> TrainResult:
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
    optimizer = _make_optimizer(t.optimizer, net.parameters(), t.learning_rate)
    loss_fn: nn.Module
    if head == "multiclass":
        loss_fn = nn.CrossEntropyLoss()
    elif head == "binary":
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        loss_fn = nn.MSELoss()
    squeeze = head != "multiclass"

    def loss_of(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        out = net(xb)
        return loss_fn(out.squeeze(-1) if squeeze else out, yb)

    gen = torch.Generator(device=device)
    gen.manual_seed(ctx.seed)

    start_epoch = 1
    best_loss, best_epoch, best_emitted = math.inf, 0, 0
    ref_loss: float | None = None
    if ctx.resume is not None:
        start_epoch, best_loss, best_epoch, ref_loss = _restore(
            ctx, config, net, optimizer, gen, device
        )
        best_emitted = best_epoch

    def snapshot(epoch: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        state = {
            "kind": ctx.kind.name,
            "net": config,
            "optimizer": t.optimizer,
            "best": {"loss": best_loss if math.isfinite(best_loss) else None, "epoch": best_epoch},
            "ref_loss": ref_loss,
        }
        return ckpt.capture(net, optimizer, gen, epoch, state)

    val_sst = 0.0  # for R^2 on the validation split (standardized units)
    if has_val and head == "regression":
        val_sst = float(((Y["val"] - Y["val"].mean()) ** 2).sum())

    epochs = t.epochs
    bs = max(1, min(t.batch_size, n))
    best_snapshot = None
    for epoch in range(start_epoch, epochs + 1):
        t0 = time.perf_counter()
        net.train()
        perm = torch.randperm(n, generator=gen, device=device)
        xs, ys = X["train"][perm], Y["train"][perm]
        total = torch.zeros((), device=device)
        first: torch.Tensor | None = None
        for batch, start in enumerate(range(0, n, bs)):
            if cb.should_stop():
                raise TrainingStopped(f"stopped in epoch {epoch}, before batch {batch + 1}")
            xb, yb = xs[start : start + bs], ys[start : start + bs]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_of(xb, yb)
            loss.backward()
            optimizer.step()
            total.add_(loss.detach(), alpha=xb.shape[0])
            if first is None:
                first = loss.detach()

        stats = [total / n]
        if first is not None and ref_loss is None:
            stats.append(first)
        net.eval()
        with torch.inference_mode():
            if has_val:
                out = forward_chunks(net, X["val"])
                vloss = loss_fn(out.squeeze(-1) if squeeze else out, Y["val"])
                stats.append(vloss)
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
        lr = float(optimizer.param_groups[0]["lr"])
        _check_divergence(train_loss, ref_loss, epoch, lr)
        point: dict[str, float] = {"train_loss": train_loss}
        monitor = train_loss
        if has_val:
            val_loss, score = values
            _check_divergence(val_loss, None, epoch, lr, what="validation loss")
            monitor = val_loss
            point["val_loss"] = val_loss
            if head == "regression":
                point["val_mse"] = val_loss * std * std
                if val_sst > 0:
                    point["val_r2"] = 1.0 - score / val_sst
            else:
                point["val_accuracy"] = score
        point["learning_rate"] = lr
        point["epoch_seconds"] = time.perf_counter() - t0
        cb.on_metrics(epoch, point)

        if monitor < best_loss:
            best_loss, best_epoch = monitor, epoch
            best_snapshot = snapshot(epoch)
        boundary = t.checkpoint_every > 0 and epoch % t.checkpoint_every == 0 and epoch < epochs
        last = epoch == epochs
        current = ckpt.encode(snapshot(epoch)) if boundary or last else b""
        if boundary:
            cb.on_checkpoint(epoch, "periodic", current)
        if (boundary or last) and best_snapshot is not None and best_epoch > best_emitted:
            # when the best epoch is this one, its state is the current one
            data = current if best_epoch == epoch else ckpt.encode(best_snapshot)
            cb.on_checkpoint(best_epoch, "best", data)
            best_emitted, best_snapshot = best_epoch, None
        if last:
            cb.on_checkpoint(epoch, "final", current)
        cb.on_progress(epoch, epochs)

    if start_epoch > epochs:  # resumed from a checkpoint of the last epoch
        cb.on_checkpoint(epochs, "final", ckpt.encode(snapshot(epochs)))
    return _finish(ctx, net, config, X, device, best_epoch)


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
) -> tuple[int, float, int, float | None]:
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
    return (
        int(meta["epoch"]) + 1,
        math.inf if best_loss is None else float(best_loss),
        int(best.get("epoch") or 0),
        meta.get("ref_loss"),
    )


def _finish(
    ctx: TrainContext,
    net: nn.Module,
    config: dict[str, Any],
    X: dict[str, torch.Tensor],
    device: torch.device,
    best_epoch: int,
) -> TrainResult:
    from safetensors.torch import save

    d = ctx.data
    net.eval()
    outputs = {}
    with torch.inference_mode():
        for s in d.splits():
            out = head_outputs(forward_chunks(net, X[s]), config)
            outputs[s] = (d.y[s], out.cpu().numpy())
    metrics = evaluate(d.task, outputs, d.n_classes)
    weights = save({k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()})
    meta = base_meta(ctx, "torch", net=config)
    meta["versions"]["torch"] = torch.__version__
    artifact = write_artifact(
        meta, {PREPROCESS: skops_dumps(d.preprocessor), MODEL_SAFETENSORS: weights}
    )
    extra = {"split": d.split_info, "device": str(device), "best_epoch": best_epoch}
    return TrainResult(metrics=metrics, artifact=artifact, info=info_from_meta(meta), extra=extra)

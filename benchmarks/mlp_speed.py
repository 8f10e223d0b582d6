"""MLP training speed: the engine against hand-written PyTorch loops and scikit-learn.

The same MLP (two hidden layers of 256, ReLU, Adam at 1e-3, binary cross-entropy) trains on
the same synthetic data (60,000 x 32 by default; 80% train, 20% validation, evaluated each
epoch) through:

- the engine: ``mlengine.train`` (what a job runs; ``epoch_seconds`` from its metric points),
- a minimal hand-written loop: tensors on the device, a per-epoch ``randperm``, slicing,
- a plain ``DataLoader`` loop (``TensorDataset``, ``shuffle=True``), the common tutorial way,
- scikit-learn's ``MLPClassifier`` (adam, same batch size) at the same number of epochs.

It prints the seconds per epoch (median of the epochs after the first) and the ratios
against the engine. The goal is engine / hand-written <= 1.1. Usage::

    python benchmarks/mlp_speed.py [--device cpu|cuda] [--rows 60000] [--epochs 5]
                                   [--batch-size 256] [--threads N] [--skip-sklearn]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pyarrow as pa
import torch
from torch import nn

import mlengine as me

D, HIDDEN = 32, [256, 256]


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, D))
    y = x[:, :5].sum(1) + 0.5 * np.sin(x[:, 5:10]).sum(1) + rng.normal(size=n) > 0
    return x, y.astype(np.int64)


def per_epoch(times: list[float]) -> float:
    return statistics.median(times[1:]) if len(times) > 1 else times[0]


def engine(x: np.ndarray, y: np.ndarray, a: argparse.Namespace) -> list[float]:
    table = pa.table({**{f"f{i:02d}": x[:, i] for i in range(D)}, "y": y})
    spec = {
        "model": {"type": "mlp", "params": {"hidden_layers": HIDDEN}},
        "target": "y",
        "device": a.device,
        "split": {"validation": 0.2, "test": 0.0},
        "preprocessing": {"scaling": "none"},
        "training": {"epochs": a.epochs, "batch_size": a.batch_size, "checkpoint_every": 0},
    }
    cb = me.RecordingCallbacks()
    me.train(spec, table, cb)
    return cb.series("epoch_seconds")


def net(device: torch.device) -> nn.Module:
    layers: list[nn.Module] = []
    width = D
    for h in HIDDEN:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 1)).to(device)


def tensors(x: np.ndarray, y: np.ndarray, device: torch.device):
    ntr = int(len(x) * 0.8)
    f = torch.tensor(x, dtype=torch.float32, device=device)
    t = torch.tensor(y, dtype=torch.float32, device=device)
    return f[:ntr], t[:ntr], f[ntr:], t[ntr:]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def hand(x: np.ndarray, y: np.ndarray, a: argparse.Namespace) -> list[float]:
    device = torch.device(a.device)
    torch.manual_seed(0)
    xt, yt, xv, yv = tensors(x, y, device)
    model = net(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(xt), device=device)
        xs, ys = xt[perm], yt[perm]
        for s in range(0, len(xt), a.batch_size):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs[s : s + a.batch_size]).squeeze(-1), ys[s : s + a.batch_size])
            loss.backward()
            opt.step()
        model.eval()
        with torch.inference_mode():
            loss_fn(model(xv).squeeze(-1), yv).item()
        times.append(time.perf_counter() - t0)
    return times


def dataloader(x: np.ndarray, y: np.ndarray, a: argparse.Namespace) -> list[float]:
    from torch.utils.data import DataLoader, TensorDataset

    device = torch.device(a.device)
    torch.manual_seed(0)
    ntr = int(len(x) * 0.8)
    train_ds = TensorDataset(
        torch.tensor(x[:ntr], dtype=torch.float32), torch.tensor(y[:ntr], dtype=torch.float32)
    )
    val_ds = TensorDataset(
        torch.tensor(x[ntr:], dtype=torch.float32), torch.tensor(y[ntr:], dtype=torch.float32)
    )
    train_dl = DataLoader(train_ds, batch_size=a.batch_size, shuffle=True)
    val_dl = DataLoader(val_ds, batch_size=4096)
    model = net(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        model.train()
        for xb, yb in train_dl:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb).squeeze(-1), yb)
            loss.backward()
            opt.step()
            loss.item()  # the usual running-loss bookkeeping: one sync per batch
        model.eval()
        with torch.inference_mode():
            sum(
                loss_fn(model(xb.to(device)).squeeze(-1), yb.to(device)).item() for xb, yb in val_dl
            )
        times.append(time.perf_counter() - t0)
    return times


def sklearn_mlp(x: np.ndarray, y: np.ndarray, a: argparse.Namespace) -> list[float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    ntr = int(len(x) * 0.8)
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(HIDDEN),
        batch_size=a.batch_size,
        learning_rate_init=1e-3,
        max_iter=a.epochs,
        tol=0.0,
        n_iter_no_change=a.epochs + 1,
        random_state=0,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x[:ntr], y[:ntr])
    clf.score(x[ntr:], y[ntr:])
    return [(time.perf_counter() - t0) / a.epochs] * a.epochs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--rows", type=int, default=60_000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--skip-sklearn", action="store_true")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    x, y = data(a.rows)
    print(
        f"device={a.device} rows={a.rows} features={D} hidden={HIDDEN} batch={a.batch_size} "
        f"epochs={a.epochs} torch={torch.__version__} threads={torch.get_num_threads()}"
    )
    runs = {"hand-written": hand, "engine": engine, "DataLoader": dataloader}
    if not a.skip_sklearn and a.device == "cpu":
        runs["sklearn MLPClassifier"] = sklearn_mlp
    results = {}
    for name, fn in runs.items():
        fn(x, y, argparse.Namespace(**{**vars(a), "epochs": 2}))  # warm up
        results[name] = per_epoch(fn(x, y, a))
        print(f"{name:>22}: {results[name]:.3f} s/epoch")
    e = results["engine"]
    print(f"ratio engine / hand-written: {e / results['hand-written']:.3f}  (goal <= 1.1)")
    for name in runs:
        if name not in ("engine", "hand-written"):
            print(f"ratio engine / {name}: {e / results[name]:.3f}")


if __name__ == "__main__":
    main()

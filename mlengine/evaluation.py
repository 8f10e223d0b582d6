"""Evaluation beyond one hold-out fit: k-fold cross-validation, learning curves, diagnosis.

- :func:`cross_validate`: k folds (stratified for classification, shuffled with the seed)
  over the training rows; each fold refits the preprocessing and a clone of the estimator
  on its own training part. One ``cv_<metric>`` point per fold (step = fold number, from
  1); final metrics ``cv_<metric>`` (mean) and ``cv_<metric>_std`` (population std).
- :func:`learning_curve`: the estimator refitted on growing, seeded (stratified) subsets of
  the training split; points ``learning_curve_train_<score>`` and
  ``learning_curve_val_<score>`` at step = training-set size. Scored on the validation
  split, or without one on a seeded fifth of the training rows held out for the curve.
- :func:`diagnose`: the bias/variance verdict of the course's table (see its docstring).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from mlengine.fitting import Progress, fit_once, model_outputs
from mlengine.metrics import evaluate

if TYPE_CHECKING:
    from mlengine.context import TrainContext

# Diagnosis thresholds, in "skill": 1 - error / (error of the trivial baseline), where the
# error is 1 - accuracy (baseline: always the majority class) or the MSE (baseline: always
# the mean); skill 0 is the baseline, 1 is perfect (= R² for regression).
HIGH_BIAS_SKILL = 0.5  # the model removes less than half of the baseline's training error
HIGH_VARIANCE_GAP = 0.15  # validation skill this far below training skill


def _splitter(ctx: TrainContext, k: int, y: np.ndarray) -> tuple[Any, bool]:
    from sklearn.model_selection import KFold, StratifiedKFold

    if ctx.data.task == "classification":
        counts = np.bincount(y)
        if counts[counts > 0].min() >= k:
            return StratifiedKFold(n_splits=k, shuffle=True, random_state=ctx.seed), True
    return KFold(n_splits=k, shuffle=True, random_state=ctx.seed), False


def cross_validate(
    ctx: TrainContext, estimator: Any, progress: Progress, notes: set[str]
) -> dict[str, float]:
    """k-fold cross-validation on the training split; ``cv_<metric>`` and its std."""
    from sklearn.base import clone

    d = ctx.data
    k = ctx.spec.split.kfold
    assert k is not None
    y = d.y["train"]
    frame = d.frame_train
    if len(y) < k:
        from mlengine.errors import TrainingError

        raise TrainingError("data", f"{k}-fold cross-validation needs at least {k} rows")
    splitter, stratified = _splitter(ctx, k, y)
    d.split_info["kfold"] = k
    d.split_info["kfold_stratified"] = stratified
    per_fold: list[dict[str, float]] = []
    for fold, (tr, va) in enumerate(splitter.split(np.zeros(len(y)), y), start=1):
        progress.check()
        pre = clone(d.preprocessor)
        X_tr = np.asarray(pre.fit_transform(frame.iloc[tr]), dtype=np.float64)
        X_va = np.asarray(pre.transform(frame.iloc[va]), dtype=np.float64)
        est = clone(estimator)
        fit_once(ctx, est, X_tr, y[tr], notes)
        out = model_outputs(est, d.task, X_va, d.n_classes)
        m = evaluate(
            d.task, {"cv": (y[va], out)}, d.n_classes, X_tr.shape[1], hasattr(est, "predict_proba")
        )
        ctx.callbacks.on_metrics(fold, m)
        per_fold.append(m)
        progress.step()
    names = sorted(set.intersection(*(set(m) for m in per_fold)))
    result: dict[str, float] = {}
    for name in names:
        values = np.array([m[name] for m in per_fold])
        result[name] = float(values.mean())
        result[f"{name}_std"] = float(values.std())
    return result


def _primary(task: str) -> list[str]:
    return ["accuracy"] if task == "classification" else ["r2", "mse"]


def learning_curve(
    ctx: TrainContext, estimator: Any, progress: Progress, notes: set[str]
) -> list[dict[str, float]]:
    """Train/validation scores at ``split.learning_curve`` training-set sizes (10%..100%)."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from mlengine.errors import TrainingError

    d = ctx.data
    task = d.task
    X, y = d.X["train"], d.y["train"]
    strat = y if task == "classification" and np.bincount(y).min() >= 2 else None
    if len(d.y["val"]):
        X_va, y_va = d.X["val"], d.y["val"]
    else:
        tr, va = train_test_split(
            np.arange(len(y)), test_size=0.2, random_state=ctx.seed, stratify=strat
        )
        X, y, X_va, y_va = X[tr], y[tr], X[va], y[va]
    n = len(y)
    points = ctx.spec.split.learning_curve
    sizes = sorted({max(2, int(round(f * n))) for f in np.linspace(0.1, 1.0, points)})
    rng = np.random.default_rng(ctx.seed)
    curve: list[dict[str, float]] = []
    for m in sizes:
        progress.check()
        if m >= n:
            idx = np.arange(n)
        elif task == "classification":
            try:
                idx, _ = train_test_split(
                    np.arange(n), train_size=m, random_state=ctx.seed, stratify=y
                )
            except ValueError:
                idx = rng.permutation(n)[:m]
        else:
            idx = rng.permutation(n)[:m]
        est = clone(estimator)
        try:
            fit_once(ctx, est, X[idx], y[idx], notes)
        except TrainingError:
            progress.step()
            continue  # e.g. fewer rows than n_neighbors, or a single class
        calibrated = hasattr(est, "predict_proba")
        scores = evaluate(
            task,
            {
                "train": (y[idx], model_outputs(est, task, X[idx], d.n_classes)),
                "val": (y_va, model_outputs(est, task, X_va, d.n_classes)),
            },
            d.n_classes,
            calibrated=calibrated,
        )
        point = {
            f"learning_curve_{s}_{name}": scores[f"{s}_{name}"]
            for s in ("train", "val")
            for name in _primary(task)
            if f"{s}_{name}" in scores
        }
        ctx.callbacks.on_metrics(int(m), point)
        curve.append({"size": float(m), **point})
        progress.step()
    return curve


# ------------------------------------------------------------------------ diagnosis


def _hints(kind: str, params: Any) -> tuple[str, str]:
    """(less regularization / more capacity, more regularization / less capacity) for a kind."""
    p = params.model_dump() if hasattr(params, "model_dump") else {}

    def now(name: str) -> str:
        return f" (now {p[name]})" if name in p else ""

    table = {
        "linear_regression": (
            f"lower alpha{now('alpha')} or use penalty 'none'; add polynomial features",
            f"use penalty 'l2' or 'l1' and raise alpha{now('alpha')}",
        ),
        "logistic_regression": (
            f"raise C{now('C')}; add polynomial features",
            f"lower C{now('C')}",
        ),
        "svm": (
            f"raise C{now('C')} or gamma{now('gamma')}; try kernel 'rbf'",
            f"lower C{now('C')} or gamma{now('gamma')}",
        ),
        "knn": (
            f"lower n_neighbors{now('n_neighbors')}",
            f"raise n_neighbors{now('n_neighbors')}",
        ),
        "decision_tree": (
            f"raise max_depth{now('max_depth')}, lower min_samples_leaf or ccp_alpha",
            f"lower max_depth{now('max_depth')}, raise min_samples_leaf{now('min_samples_leaf')}"
            f" or ccp_alpha{now('ccp_alpha')} (cost-complexity pruning)",
        ),
        "random_forest": (
            f"deeper trees: raise max_depth{now('max_depth')}, lower min_samples_leaf",
            f"lower max_depth{now('max_depth')} or max_features, raise min_samples_leaf",
        ),
        "adaboost": (
            f"raise n_estimators{now('n_estimators')} or max_depth{now('max_depth')}",
            f"lower learning_rate{now('learning_rate')} or max_depth{now('max_depth')}",
        ),
        "gradient_boosting": (
            f"raise n_estimators{now('n_estimators')} or learning_rate{now('learning_rate')}",
            f"lower learning_rate{now('learning_rate')} or max_depth{now('max_depth')}, "
            "raise l2_regularization",
        ),
        "naive_bayes": (
            f"lower alpha{now('alpha')} (less smoothing); naive Bayes is simple, try svm or "
            "gradient_boosting",
            f"raise alpha{now('alpha')} (more smoothing)",
        ),
        "mlp": (
            "wider or more hidden layers, more epochs",
            "fewer or narrower layers, more dropout",
        ),
        "cnn": (
            "more channels or conv blocks, a wider dense head, more epochs",
            "fewer channels, more dropout or weight_decay, early_stopping",
        ),
        "rnn": (
            "a larger hidden_size or more num_layers, more epochs",
            "a smaller hidden_size, dropout or weight_decay, early_stopping",
        ),
        "transformer": (
            "a larger d_model or more n_layers, more epochs",
            "fewer layers, more dropout or weight_decay, early_stopping",
        ),
    }
    return table.get(kind, ("a more flexible model", "a simpler model"))


def _skill(err: float, base: float) -> float:
    return 1.0 - err / base if base > 0 else (1.0 if err <= 0 else 0.0)


def diagnose(ctx: TrainContext, metrics: dict[str, float]) -> dict[str, Any]:
    """Bias or variance, following the course's table.

    Scores are accuracy (classification) or R² (regression); ``baseline_score`` is the
    trivial model's on the training split (majority class; the mean, R² = 0). The
    validation score is ``val_`` (hold-out), else ``cv_`` (k-fold mean), else ``test_``.

    - ``high_bias``: training error is high, close to the baseline's: the model removes
      less than half of the baseline's error on its own training data.
    - ``high_variance``: training error low, validation error much higher: a skill gap above
      0.15 of the baseline's error, and (classification) above two standard errors of the
      validation accuracy.
    - ``good_fit``: neither.
    """
    d = ctx.data
    classification = d.task == "classification"
    score = "accuracy" if classification else "r2"
    y = d.y["train"]
    if classification:
        baseline = float(np.bincount(y, minlength=d.n_classes).max() / len(y))
        base_err = 1.0 - baseline
    else:
        baseline, base_err = 0.0, 1.0
    source = next((s for s in ("val", "cv", "test") if f"{s}_{score}" in metrics), None)
    train_score = metrics.get(f"train_{score}", float("nan"))
    out: dict[str, Any] = {
        "metric": score,
        "train_score": train_score if math.isfinite(train_score) else None,
        "val_score": metrics[f"{source}_{score}"] if source else None,
        "baseline_score": baseline,
        "val_split": source,
    }
    if not math.isfinite(train_score):
        out["verdict"] = None
        out["advice"] = [
            f"no training {score} could be computed (too few training rows); "
            "upload more rows to get a diagnosis"
        ]
        return out
    train_skill = _skill(1.0 - train_score, base_err)
    more, less = _hints(ctx.kind.name, ctx.params)
    bias = train_skill < HIGH_BIAS_SKILL
    variance = False
    if source is not None:
        val_score = float(out["val_score"])
        val_skill = _skill(1.0 - val_score, base_err)
        gap = HIGH_VARIANCE_GAP
        n_val = len(d.y["val"]) if source == "val" else len(d.y["test"]) if source == "test" else 0
        if classification and n_val and base_err > 0:
            # "much higher" must be more than the noise of a small validation split
            se = math.sqrt(max(val_score * (1.0 - val_score), 1e-12) / n_val)
            gap = max(gap, 2.0 * se / base_err)
        variance = train_skill - val_skill > gap
    advice: list[str] = []
    if bias:
        out["verdict"] = "high_bias"
        advice += [
            "Try getting additional features: the model cannot fit its own training data.",
            "Try adding polynomial features or a more complex model.",
            f"Try decreasing regularization: {more}.",
            "More training examples alone will not help a high-bias model.",
        ]
        if variance:
            advice.append("Validation is also much worse than training: check variance too.")
    elif variance:
        out["verdict"] = "high_variance"
        advice += [
            "Get more training examples.",
            "Try a smaller set of features.",
            f"Try increasing regularization: {less}.",
        ]
        if ctx.kind.name != "random_forest":
            advice.append("Average many models: bagging (random_forest) lowers variance.")
    else:
        out["verdict"] = "good_fit"
        advice.append(
            "Training and validation scores are close and well above the baseline; "
            "confirm once on the test set."
        )
    if source is None:
        advice.append("No validation data: set split.validation or split.kfold to diagnose.")
    elif source == "test":
        advice.append(
            "Diagnosed on the test split (no validation split); keep a validation split "
            "or use kfold for tuning."
        )
    out["advice"] = advice
    return out

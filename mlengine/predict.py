"""Load a model artifact as a ``Predictor`` (above the two families, which do not know it).

A reinforcement-learning artifact is a policy (``mlengine.rl.policy``: observations in,
actions out); any other is a model of rows (``mlengine.predictor_tabular``). Torch is
imported only for torch models, gymnasium only for policies.
"""

from __future__ import annotations

from mlengine.artifact import read_artifact
from mlengine.predictor import Predictor


def load_predictor(artifact: bytes, device: str = "cpu") -> Predictor:
    """Rebuild a model from its artifact.

    ``device`` is where a torch network runs ("cpu" by default: predictions are small
    batches served from the API process; "cuda" if you want it there).
    """
    meta, files = read_artifact(artifact)
    if meta.get("task") == "reinforcement":
        from mlengine.rl.policy import load_policy

        return load_policy(meta, files, device)
    from mlengine.predictor_tabular import load_tabular

    return load_tabular(meta, files, device)

"""Inference for torch models loaded from an artifact."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mlengine.errors import ArtifactError
from mlengine.nn.loop import forward_chunks, head_outputs
from mlengine.nn.nets import build_net


class TorchBackend:
    def __init__(self, config: dict[str, Any], weights: bytes, device: str = "cpu"):
        from safetensors.torch import load

        self.config = config
        self.device = torch.device(device)
        try:
            net = build_net(config)
            net.load_state_dict(load(weights))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ArtifactError(f"cannot rebuild the network: {exc}") from exc
        self.net = net.to(self.device).eval()

    def outputs(self, X: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            out = head_outputs(forward_chunks(self.net, x), self.config)
        result: np.ndarray = out.cpu().numpy()
        return result

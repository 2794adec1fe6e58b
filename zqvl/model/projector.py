"""Projector: image features (vision width) -> LLM embedding space.

"mlp2x_gelu" (LLaVA's and the seed's: Linear -> GELU -> Linear) by default, "mlpNx_gelu" for depth N, "linear".
Initialisation is chosen so that, for features of RMS `input_rms` (build measures it on the tower), every hidden
pre-activation has unit variance and the output has the RMS of the LLM's token embeddings: projected image tokens
start on the same scale as text tokens instead of dwarfing them (or being lost) at step 0.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

GELU_SECOND_MOMENT = 0.4253  # E[gelu(z)^2] for z ~ N(0, 1): the variance a GELU passes on


def parse_projector_type(kind: str) -> int:
    """Depth (number of Linear layers) of a projector type name."""
    if kind == "linear":
        return 1
    match = re.fullmatch(r"mlp(\d+)x_gelu", kind)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"unknown projector type {kind!r}; use 'linear' or 'mlpNx_gelu' (e.g. mlp2x_gelu)")
    return int(match.group(1))


class Projector(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        kind: str = "mlp2x_gelu",
        target_rms: float = 0.02,
        input_rms: float = 1.0,
    ):
        super().__init__()
        depth = parse_projector_type(kind)
        sizes = [in_features] + [out_features] * depth
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = nn.GELU()
        self.target_rms, self.input_rms = target_rms, input_rms

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.linears[0](features)
        for linear in self.linears[1:]:
            x = linear(self.act(x))
        return x

    def init_stds(self) -> list[float]:
        """Weight std per layer: unit-variance hidden pre-activations, output RMS = target_rms."""
        stds = []
        for i, linear in enumerate(self.linears):
            gain = self.input_rms**2 if i == 0 else GELU_SECOND_MOMENT  # input variance of this layer
            out_scale = self.target_rms if i == len(self.linears) - 1 else 1.0
            stds.append(out_scale / math.sqrt(gain * linear.in_features))
        return stds

    def init_weights(self, init_module=None) -> None:
        """Initialise in place. `init_module` is transformers.initialization inside from_pretrained (it skips
        tensors already loaded from a checkpoint); plain torch.nn.init otherwise."""
        init_module = init_module or nn.init
        with torch.no_grad():
            for linear, std in zip(self.linears, self.init_stds()):
                init_module.normal_(linear.weight, mean=0.0, std=std)
                init_module.zeros_(linear.bias)

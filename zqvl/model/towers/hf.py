"""CLIP and SigLIP vision towers from transformers, with LLaVA's feature selection.

Features are `hidden_states[feature_layer]` of the HF vision model (the same indexing LlavaForConditionalGeneration
uses, so an export reproduces them exactly); select "default" drops the CLS token, "full" keeps every token.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from zqvl.errors import UsageError

HAS_CLS = {"clip_vision_model": True, "siglip_vision_model": False}


def hf_num_tokens(vision_config, select: str) -> int:
    patches = (vision_config.image_size // vision_config.patch_size) ** 2
    cls = 1 if HAS_CLS[vision_config.model_type] else 0
    return patches + (cls if select == "full" else 0)


def check_selection(vision_config, feature_layer: int, select: str) -> None:
    if select not in ("default", "full"):
        raise UsageError(f"feature selection must be 'default' (drop CLS) or 'full', got {select!r}")
    if select == "default" and not HAS_CLS[vision_config.model_type]:
        raise UsageError("SigLIP has no CLS token: use select 'full' (--cls keep)")
    layers = vision_config.num_hidden_layers
    if not -(layers + 1) <= feature_layer <= layers:
        raise UsageError(
            f"feature layer {feature_layer} out of range for a {layers}-layer tower "
            f"(hidden states are indexed -{layers + 1}..{layers})"
        )


class HFVisionTower(nn.Module):
    """pixel_values (N, 3, S, S) -> features (N, num_tokens, hidden_size)."""

    def __init__(self, vision_config, feature_layer: int, select: str, model: nn.Module | None = None):
        super().__init__()
        from transformers import AutoModel

        check_selection(vision_config, feature_layer, select)
        self.feature_layer, self.select = feature_layer, select
        self.model = model if model is not None else AutoModel.from_config(vision_config)
        self._num_tokens = hf_num_tokens(vision_config, select)
        self._hidden_size = vision_config.hidden_size

    @property
    def num_tokens(self) -> int:
        return self._num_tokens

    @property
    def hidden_size(self) -> int:
        return self._hidden_size

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        dtype = self.model.embeddings.patch_embedding.weight.dtype
        out = self.model(pixel_values=pixel_values.to(dtype), output_hidden_states=True)
        features = out.hidden_states[self.feature_layer]
        return features[:, 1:] if self.select == "default" else features


def load_hf_vision_model(path: str | Path, family: str, **config_overrides):
    """The vision half of a local CLIP/SigLIP directory (a full CLIPModel/SiglipModel or a vision-only one).
    Fails naming every vision weight the directory lacks (they would silently stay random otherwise)."""
    from transformers import CLIPVisionModel, SiglipVisionModel

    from zqvl.model.quiet import hf_quiet

    cls = {"clip": CLIPVisionModel, "siglip": SiglipVisionModel}[family]
    try:
        with hf_quiet():  # the text half is reported as "unexpected" keys: expected here
            model, info = cls.from_pretrained(str(path), output_loading_info=True, **config_overrides)
    except Exception as e:  # noqa: BLE001 - unreadable dir is a usage problem
        raise UsageError(f"cannot load a {family} vision model from {path}: {e}") from None
    problems = [*info.get("missing_keys", []), *info.get("mismatched_keys", [])]
    if problems:
        raise UsageError(
            f"{family} weights in {path} lack {len(problems)} vision key(s): "
            + ", ".join(str(k) for k in sorted(problems, key=str))
        )
    return model.eval()

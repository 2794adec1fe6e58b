"""Fake checkpoints for tests and demos: same file layout and key names as the real ones, tiny random tensors."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from zqvl.model.towers.qwen_vl_checkpoint import PREFIX

TINY_VISUAL = {
    "image_size": 56,
    "patch_size": 14,
    "width": 32,
    "layers": 2,
    "heads": 2,
    "mlp_ratio": 2.0,
    "output_dim": 48,
    "n_queries": 16,
    "resampler_heads": 2,
    "pos_grid": 16,
}
# A few of Qwen-VL-Chat's LLM keys, so the loader must pick the visual ones out of mixed shards.
LLM_KEYS = {
    "transformer.wte.weight": (64, 16),
    "transformer.h.0.attn.c_attn.weight": (48, 16),
    "transformer.h.0.ln_1.weight": (16,),
    "transformer.ln_f.weight": (16,),
    "lm_head.weight": (64, 16),
}


def qwen_vl_visual_state(visual: dict = TINY_VISUAL, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights for every `transformer.visual.*` key of a tower with this "visual" config."""
    from zqvl.model.towers.qwen_vl import QwenVLVisionModel
    from zqvl.model.towers.qwen_vl_checkpoint import config_from_visual

    config = config_from_visual(visual)
    torch.manual_seed(seed)
    model = QwenVLVisionModel(config)
    state = {PREFIX + k: v.detach().clone() for k, v in model.state_dict().items()}
    # Distinct non-trivial values everywhere (LayerNorms would otherwise be exact ones/zeros).
    return {k: v + 0.01 * torch.randn_like(v) for k, v in state.items()}


def write_fake_qwen_vl_chat(
    directory: str | Path,
    *,
    shards: int = 3,
    fmt: str = "safetensors",
    visual: dict = TINY_VISUAL,
    state: dict | None = None,
    seed: int = 0,
) -> dict:
    """A Qwen-VL-Chat-shaped checkpoint dir: config.json with "visual", weights split over `shards` files
    behind an index (fmt "safetensors" or "bin"). Returns the full state dict written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if state is None:
        gen = torch.Generator().manual_seed(seed)
        state = {
            **{k: torch.randn(s, generator=gen) for k, s in LLM_KEYS.items()},
            **qwen_vl_visual_state(visual, seed),
        }
    keys = list(state)
    per_shard = -(-len(keys) // shards)
    suffix = "safetensors" if fmt == "safetensors" else "bin"
    stem = "model" if fmt == "safetensors" else "pytorch_model"
    weight_map = {}
    for i in range(shards):
        name = f"{stem}-{i + 1:05d}-of-{shards:05d}.{suffix}"
        chunk = {k: state[k].contiguous() for k in keys[i * per_shard : (i + 1) * per_shard]}
        if fmt == "safetensors":
            from safetensors.torch import save_file

            save_file(chunk, str(directory / name), metadata={"format": "pt"})
        else:
            torch.save(chunk, directory / name)
        weight_map.update(dict.fromkeys(chunk, name))
    index = {
        "metadata": {"total_size": sum(v.numel() * v.element_size() for v in state.values())},
        "weight_map": weight_map,
    }
    (directory / f"{stem}.{suffix}.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    config = {"model_type": "qwen", "architectures": ["QWenLMHeadModel"], "visual": dict(visual)}
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return state

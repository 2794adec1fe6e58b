"""`zqvl-model info`: what a model directory holds, read from config and safetensors headers (no weights loaded).

Parameters per part (vision / projector / llm) and, for every stage preset x train type, which parts train and
how many parameters that is (LoRA: adapters of rank LORA_DEFAULTS["r"] on the LLM's target linears).
"""
from __future__ import annotations

import json
from pathlib import Path

from zqvl.model.presets import LORA_DEFAULTS, PARTS, STAGES, TRAIN_TYPES, part_modes
from zqvl.ui import UsageError

_PART_PREFIX = (("vision_tower.", "vision"), ("projector.", "projector"), ("language_model.", "llm"))


def weight_shapes(directory: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape for every tensor in the directory's safetensors files (one file or an index)."""
    from safetensors import safe_open

    directory = Path(directory)
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    elif (directory / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise UsageError(f"{directory}: no model.safetensors or model.safetensors.index.json")
    shapes = {}
    for name in files:
        with safe_open(str(directory / name), framework="pt") as f:
            for key in f.keys():
                shapes[key] = tuple(f.get_slice(key).get_shape())
    return shapes


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def part_counts(shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    counts = dict.fromkeys(PARTS, 0)
    for key, shape in shapes.items():
        part = next((p for prefix, p in _PART_PREFIX if key.startswith(prefix)), None)
        if part is None:
            raise UsageError(f"tensor {key} belongs to no part (vision_tower / projector / language_model)")
        counts[part] += _numel(shape)
    return counts


def lora_count(shapes: dict[str, tuple[int, ...]], rank: int = LORA_DEFAULTS["r"]) -> int:
    """Adapter parameters for LoRA on the LLM's target linears: rank * (in + out) each."""
    total = 0
    for key, shape in shapes.items():
        parts = key.split(".")
        if (key.startswith("language_model.") and parts[-1] == "weight" and len(shape) == 2
                and parts[-2] in LORA_DEFAULTS["target_modules"]):
            total += rank * (shape[0] + shape[1])
    return total


def describe(directory: str | Path) -> dict:
    directory = Path(directory)
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{directory}: cannot read config.json: {e}") from None
    if config.get("model_type") != "zqvl":
        raise UsageError(f"{directory}: model_type {config.get('model_type')!r} is not a zqvl model")
    shapes = weight_shapes(directory)
    counts, lora = part_counts(shapes), lora_count(shapes)
    stages = []
    for stage in sorted(STAGES):
        for train_type in TRAIN_TYPES:
            modes = part_modes(stage, train_type)
            trainable = sum(counts[p] for p, m in modes.items() if m == "full") + (
                lora if "lora" in modes.values() else 0)
            stages.append({"stage": stage, "name": STAGES[stage].name, "train_type": train_type, **modes,
                           "trainable": trainable})
    build = directory / "zqvl_build.json"
    return {"config": config, "counts": counts, "lora": lora, "stages": stages,
            "build": json.loads(build.read_text(encoding="utf-8")) if build.is_file() else {}}


def human(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def render(directory: str | Path, info: dict) -> list:
    """rich tables: model summary, parameters per part, trainable parts per stage."""
    from zqvl.ui import table

    cfg, build = info["config"], info["build"]
    vision, text = cfg["vision_config"], cfg["text_config"]
    summary = [["vision tower", f"{vision['model_type']} ({build.get('vision', '?')})"],
               ["image", f"{vision['image_size']} px, {build.get('image_preprocessing', '?')}"],
               ["image tokens", f"{cfg['num_image_tokens']} per image, id {cfg['image_token_id']}"],
               ["projector", cfg["projector_type"]],
               ["language model", f"{text['model_type']} ({build.get('llm', '?')}), vocab {text['vocab_size']}"],
               ["dtype", cfg.get("dtype", "?")]]
    total = sum(info["counts"].values()) or 1
    parts = [[p, f"{n:,}", human(n), f"{100 * n / total:.1f}%"] for p, n in info["counts"].items()]
    parts.append(["total", f"{total:,}", human(total), "100%"])
    stages = [[f"{s['stage']} {s['name']}", s["train_type"], s["vision"], s["projector"], s["llm"],
               human(s["trainable"])] for s in info["stages"]]
    return [table(f"model {directory}", ["", ""], summary),
            table("parameters per part", ["part", "parameters", "", "share"], parts),
            table(f"trainable by stage (LoRA r={LORA_DEFAULTS['r']} on the LLM)",
                  ["stage", "train type", "vision", "projector", "llm", "trainable"], stages)]

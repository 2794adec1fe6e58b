"""`zqvl-model info`: what a model directory holds, read from config and safetensors headers (no weights loaded).

Parameters per part (vision / projector / llm) and, for each stage preset and each train type of the trainer's
presets (zqvl/train/presets.yaml, the one source of truth), which parts train and how many parameters that is
(LoRA: adapters of the default rank on the LLM's target linears).
"""
from __future__ import annotations

import json
from pathlib import Path

from zqvl.model.presets import PARTS
from zqvl.train.config import TrainConfig
from zqvl.train.presets import lora_targets, stages, train_types
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


def lora_count(shapes: dict[str, tuple[int, ...]], rank: int = TrainConfig.lora_r) -> int:
    """Adapter parameters for LoRA on the LLM's target linears: rank * (in + out) each."""
    total = 0
    for key, shape in shapes.items():
        parts = key.split(".")
        if (key.startswith("language_model.") and parts[-1] == "weight" and len(shape) == 2
                and parts[-2] in lora_targets()):
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
    types = []
    for name, parts in train_types().items():
        modes = {"vision": "full" if "vision" in parts else "frozen",
                 "projector": "full" if "projector" in parts else "frozen",
                 "llm": "full" if "llm" in parts else "lora" if "llm_lora" in parts else "frozen"}
        trainable = sum(counts[p] for p, m in modes.items() if m == "full") + (lora if "llm_lora" in parts else 0)
        types.append({"train_type": name, **modes, "trainable": trainable})
    by_type = {t["train_type"]: t for t in types}
    stage_rows = [{"stage": s, "name": p["name"], **by_type[p["train_type"]]}
                  for s, p in sorted(stages().items())]
    build = directory / "zqvl_build.json"
    return {"config": config, "counts": counts, "lora": lora, "stages": stage_rows, "train_types": types,
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
    types = [[t["train_type"], t["vision"], t["projector"], t["llm"], human(t["trainable"])]
             for t in info["train_types"]]
    return [table(f"model {directory}", ["", ""], summary),
            table("parameters per part", ["part", "parameters", "", "share"], parts),
            table("trainable by stage (preset train type; zqvl-train --train-type overrides)",
                  ["stage", "train type", "vision", "projector", "llm", "trainable"], stages),
            table(f"train types (LoRA r={TrainConfig.lora_r} on the LLM only)",
                  ["train type", "vision", "projector", "llm", "trainable"], types)]

"""`zqvl-model info`: what a model directory holds, read from config and safetensors headers (no weights loaded).

Parameters per part (vision / projector / llm). What each stage and train type trains is the trainer's business
(`zqvl.train.presets.trainable`); the CLI puts both tables side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

from zqvl.errors import UsageError
from zqvl.model.presets import PARTS

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


def describe(directory: str | Path) -> dict:
    directory = Path(directory)
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{directory}: cannot read config.json: {e}") from None
    if config.get("model_type") != "zqvl":
        raise UsageError(f"{directory}: model_type {config.get('model_type')!r} is not a zqvl model")
    shapes = weight_shapes(directory)
    counts = part_counts(shapes)
    build = directory / "zqvl_build.json"
    return {
        "config": config,
        "counts": counts,
        "shapes": shapes,
        "build": json.loads(build.read_text(encoding="utf-8")) if build.is_file() else {},
    }


def human(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)

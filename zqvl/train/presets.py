"""Stage presets and train types, read from presets.yaml (data, not code)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from zqvl.errors import UsageError

PRESETS_FILE = Path(__file__).with_name("presets.yaml")
PARTS = ("vision", "projector", "llm", "llm_lora")


@lru_cache(maxsize=1)
def _presets() -> dict:
    with open(PRESETS_FILE, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    for name, parts in data["train_types"].items():
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise ValueError(f"{PRESETS_FILE}: train type {name} names unknown parts {sorted(unknown)}")
    return data


def stages() -> dict[int, dict]:
    return {int(k): dict(v) for k, v in _presets()["stages"].items()}


def stage_preset(stage: int) -> dict:
    """The preset values of one stage (without its name and description)."""
    all_stages = stages()
    if stage not in all_stages:
        raise UsageError(f"unknown stage {stage}; presets exist for stages {sorted(all_stages)}")
    preset = dict(all_stages[stage])
    preset.pop("description", None)
    preset.pop("name", None)
    return preset


def train_types() -> dict[str, list[str]]:
    return {k: list(v) for k, v in _presets()["train_types"].items()}


def trainable_parts(train_type: str) -> list[str]:
    types = train_types()
    if train_type not in types:
        raise UsageError(f"unknown train type {train_type!r}; choose one of {', '.join(types)}")
    return types[train_type]


def lora_targets() -> list[str]:
    return list(_presets()["lora_targets"])


def lora_param_count(shapes: dict[str, tuple[int, ...]], rank: int) -> int:
    """Adapter parameters for LoRA on the LLM's target linears: rank * (in + out) each."""
    targets = set(lora_targets())
    total = 0
    for key, shape in shapes.items():
        parts = key.split(".")
        if key.startswith("language_model.") and parts[-1] == "weight" and len(shape) == 2 and parts[-2] in targets:
            total += rank * (shape[0] + shape[1])
    return total


def trainable(counts: dict[str, int], shapes: dict[str, tuple[int, ...]], lora_rank: int) -> dict:
    """For each train type and each stage preset: which parts train (full / lora / frozen) and how many
    parameters that is, given a model's parameter counts per part (`zqvl.model.info.describe`)."""
    lora = lora_param_count(shapes, lora_rank)
    types = []
    for name, parts in train_types().items():
        modes = {
            "vision": "full" if "vision" in parts else "frozen",
            "projector": "full" if "projector" in parts else "frozen",
            "llm": "full" if "llm" in parts else "lora" if "llm_lora" in parts else "frozen",
        }
        n = sum(counts[p] for p, m in modes.items() if m == "full") + (lora if "llm_lora" in parts else 0)
        types.append({"train_type": name, **modes, "trainable": n})
    by_type = {t["train_type"]: t for t in types}
    stage_rows = [{"stage": s, "name": p["name"], **by_type[p["train_type"]]} for s, p in sorted(stages().items())]
    return {"lora": lora, "stages": stage_rows, "train_types": types}

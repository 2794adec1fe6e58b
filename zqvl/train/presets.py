"""Stage presets and train types, read from presets.yaml (data, not code)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from zqvl.ui import UsageError

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

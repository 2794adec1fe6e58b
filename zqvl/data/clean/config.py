"""The clean config: shipped defaults (default.yaml) deep-merged with a user file; every key is validated.

A typo in a config file must fail loudly (one line naming the key), not silently run with a default.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zqvl.errors import UsageError
from zqvl.yamlfile import read_mapping

DEFAULT_NAME = "default.yaml"


def default_config() -> dict:
    text = resources.files("zqvl.data.clean").joinpath(DEFAULT_NAME).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _merge(base: dict, override: dict, where: str, origin: str) -> None:
    for key, value in override.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in base:
            known = ", ".join(sorted(map(str, base))) or "(none)"
            raise UsageError(f"{origin}: unknown key {path!r} (known here: {known})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise UsageError(f"{origin}: {path!r} must be a mapping")
            _merge(base[key], value, path, origin)
        else:
            expected = type(base[key])
            ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
            if not ok or (expected is int and isinstance(value, bool)):
                raise UsageError(f"{origin}: {path!r} must be {expected.__name__}, got {value!r}")
            base[key] = float(value) if expected is float else value


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """Defaults, then the file at `path`, then `overrides` (a dict of the same shape)."""
    config = copy.deepcopy(default_config())
    if path is not None:
        user = read_mapping(path)
        _merge(config, user, "", str(path))
    if overrides:
        _merge(config, overrides, "", "overrides")
    return config


def filter_params(config: dict, name: str) -> dict[str, Any]:
    return {k: v for k, v in config["filters"].get(name, {}).items() if k != "enabled"}

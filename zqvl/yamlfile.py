"""Reading a user's YAML config file: a mapping, or one clear UsageError line."""

from __future__ import annotations

from pathlib import Path

import yaml

from zqvl.errors import UsageError


def read_mapping(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise UsageError(f"{path}: cannot read config ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: config must be a mapping at the top level")
    return data

"""Source-aware cleaning of machine-translated image-chat data (`zqvl-data clean`).

Each defect family is a small module registering a pure function `record -> list[reason]`; the runner adds
set-level checks (length outliers, near-duplicate answers and images). Training reuses the per-record
filters on the fly:

    from zqvl.data.clean import load_filters
    filters = load_filters()                      # every enabled filter, thresholds from default.yaml
    reasons = [r for f in filters for r in f(record)]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from zqvl.data.clean import (  # noqa: F401
    answered,
    junk,
    markdown,
    numbers,
    ocr,
    omission,
    placeholder,
    preamble,
    refusal,
    repetition,
    script,
    structure,
    truncation,
    untranslated,
)
from zqvl.data.clean.config import filter_params, load_config
from zqvl.data.clean.registry import REGISTRY, Reason, bind
from zqvl.data.schema import Record

Filter = Callable[[Record], list[str]]


def load_filters(
    config_path: str | Path | None = None, names: list[str] | None = None, config: dict | None = None
) -> list[Filter]:
    """The per-record filters (no set-level checks), each `record -> list[reason code]`.

    `names` picks families explicitly (even if disabled in the config); otherwise all enabled ones run.
    Reasons are `str` codes such as "numbers.missing" that also carry a `.detail` explanation.
    """
    config = config if config is not None else load_config(config_path)
    if names is not None:
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise ValueError(f"unknown filter(s) {unknown}; known: {sorted(REGISTRY)}")
        chosen = list(names)
    else:
        order = list(config["filters"]) + [n for n in REGISTRY if n not in config["filters"]]
        chosen = [n for n in order if config["filters"].get(n, {}).get("enabled", True)]
    return [bind(REGISTRY[n], filter_params(config, n)) for n in chosen]


def check_record(record: Record, filters: list[Filter]) -> list[Reason]:
    """All reasons from all filters for one record (empty: keep it)."""
    return [r for f in filters for r in f(record)]


def run_filters(record: Record, filters, errors: dict | None = None) -> list[Reason]:
    """check_record, where a filter that raises becomes the reason `error.FAMILY` (counted in `errors`): a
    filter bug drops the record, never the run."""
    reasons: list[Reason] = []
    for f in filters:
        try:
            reasons += f(record)
        except Exception as e:  # noqa: BLE001 - a filter bug must not lose the record or stop the run
            if errors is not None:
                errors[f.__name__] = errors.get(f.__name__, 0) + 1  # a Counter or a plain dict
            reasons.append(Reason(f"error.{f.__name__}", f"filter raised {type(e).__name__}: {e}"))
    return reasons


__all__ = ["load_filters", "check_record", "run_filters", "load_config", "Reason", "REGISTRY"]

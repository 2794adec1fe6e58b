"""The filter registry: each defect family registers a pure function `(record, params) -> list[Reason]`.

A Reason (zqvl.data.checks) is a `str` (its code, e.g. "numbers.missing") that also carries a human-readable
`detail`, so a filter's result is a plain `list[str]` for the trainer and still explains itself in
rejected.jsonl and `--explain`. Families register in import order, which is also the order they run and are
reported in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from zqvl.data.checks import Reason  # noqa: F401 - the families import it from here
from zqvl.data.schema import Record, Turn

FilterFn = Callable[[Record, dict], list]


@dataclass(frozen=True)
class FilterSpec:
    name: str  # family name, also the config key and the reason-code prefix
    fn: FilterFn
    doc: str
    needs_source: bool = False  # True: does nothing on records without `source`


REGISTRY: dict[str, FilterSpec] = {}


def register(name: str, needs_source: bool = False):
    """Decorator: `@register("numbers")` adds a family; its parameters come from the config (default.yaml)."""

    def wrap(fn: FilterFn) -> FilterFn:
        if name in REGISTRY:
            raise ValueError(f"filter {name!r} registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        REGISTRY[name] = FilterSpec(name, fn, doc, needs_source)
        return fn

    return wrap


def per_turn(record: Record, findings: Callable[[Turn], Iterable[tuple[str, str]]]) -> list[Reason]:
    """A family's reasons from its per-turn findings: `findings(turn)` gives (code, detail) pairs; a code's
    details are joined in turn order, each after its turn number ("turn 2: ...")."""
    out: dict[str, list[str]] = {}
    for i, turn in enumerate(record.turns):
        for code, detail in findings(turn):
            out.setdefault(code, []).append(f"turn {i}: {detail}")
    return [Reason(code, "; ".join(hits)) for code, hits in out.items()]


def bind(spec: FilterSpec, params: dict) -> Callable[[Record], list]:
    """The family's function with its parameters fixed: `record -> list[Reason]`."""
    bound = partial(spec.fn, params=params)
    bound.__name__ = spec.name  # type: ignore[attr-defined]
    bound.__doc__ = spec.doc
    return bound

"""Ids: each record's id is unique in its set, and a record that is not readable JSON says why."""

from __future__ import annotations

from zqvl.data.checks.reason import Reason
from zqvl.data.schema import SchemaError


class SeenIds:
    """Remembers where each id first appeared; `check` reports a later use of it."""

    def __init__(self) -> None:
        self.first: dict[str, int] = {}

    def check(self, rid: str, index: int) -> list[Reason]:
        first = self.first.setdefault(rid, index)
        if first == index:
            return []
        return [Reason("structure.duplicate_id", f"id {rid!r} already used by record #{first}")]


def schema_reason(error: SchemaError) -> Reason:
    """The reason for a value that is not a record (schema's codes live in the structure family)."""
    return Reason(f"structure.{error.code}", str(error))

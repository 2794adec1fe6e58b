"""One vocabulary of record checks: small pure functions `record -> list[Reason]` and one table of codes.

Codes are `family.what` (CODES says each one's level and meaning). `validate` and `shard` run
`record_checks`; clean's structure and placeholder families are built from the same functions, and
training's collate drops a record with the same codes:

    from zqvl.data.checks import record_errors
    problems = record_errors(record)        # [] when training and sharding can use the record
    problems[0], problems[0].detail         # "placeholder.count", "2 <image> tag(s) for 1 image(s)"
"""

from __future__ import annotations

from zqvl.data.checks.codes import CODES, ERROR, WARNING, Code, level, meaning
from zqvl.data.checks.ids import SeenIds, schema_reason
from zqvl.data.checks.placeholders import MANGLED_RE, in_answer, look_alikes, moved, tag_count, tag_look_alikes
from zqvl.data.checks.reason import Reason
from zqvl.data.checks.structure import empty_turns, roles, sources_complete
from zqvl.data.schema import Record


def record_checks(record: Record) -> list[Reason]:
    """What every canonical record must satisfy, translated or not (source-aware checks are clean's)."""
    return roles(record) + empty_turns(record) + in_answer(record) + look_alikes(record) + tag_count(record)


def record_errors(record: Record) -> list[Reason]:
    """The error-level findings of `record_checks`: a record with any cannot be trained on."""
    return [r for r in record_checks(record) if level(r) == ERROR]


__all__ = [
    "CODES",
    "ERROR",
    "WARNING",
    "Code",
    "level",
    "meaning",
    "Reason",
    "SeenIds",
    "schema_reason",
    "MANGLED_RE",
    "tag_look_alikes",
    "look_alikes",
    "tag_count",
    "moved",
    "in_answer",
    "roles",
    "empty_turns",
    "sources_complete",
    "record_checks",
    "record_errors",
]

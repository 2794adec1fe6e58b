"""structure: the conversation's shape is wrong — roles translated or out of order, empty turns, lost sources.

The checks themselves are zqvl.data.checks.structure (validate and training run the same ones).
"""

from __future__ import annotations

from zqvl.data.checks import Reason, empty_turns, roles, sources_complete
from zqvl.data.clean.registry import register
from zqvl.data.schema import Record


@register("structure")
def check_structure(record: Record, params: dict) -> list[Reason]:
    """Roles are human/gpt, alternate from human, end on gpt; no empty turn; every turn keeps its source."""
    return roles(record) + empty_turns(record) + sources_complete(record)

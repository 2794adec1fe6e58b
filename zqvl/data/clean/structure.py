"""structure: the conversation's shape is wrong — roles translated or out of order, empty turns, lost sources,
or a turn that carries the text of the turn next to it as a line of its own (two turns merged by the
translator, the copy often kept in its own turn too).

The shape checks themselves are zqvl.data.checks.structure (validate and training run the same ones).
"""

from __future__ import annotations

from zqvl.data.checks import Reason, empty_turns, roles, sources_complete
from zqvl.data.clean.registry import register
from zqvl.data.clean.text import strip_image_tags
from zqvl.data.schema import Record

_MIN_MERGED_CHARS = 4  # shorter lines ("是的。") recur in any conversation


def merged_turns(record: Record) -> list[Reason]:
    """A turn with more than one line, one of which is the whole text of the turn before or after it, while its
    source does not hold that turn's source. (A turn that is nothing but the other's text is answered's echo.)"""
    turns, hits = record.turns, []
    for i, turn in enumerate(turns):
        if "\n" not in turn.value.strip() or turn.source is None:
            continue
        lines = {line.strip() for line in strip_image_tags(turn.value).split("\n") if line.strip()}
        for j in (i - 1, i + 1):
            if not 0 <= j < len(turns) or turns[j].role == turn.role or turns[j].source is None:
                continue
            other = strip_image_tags(turns[j].value).strip()
            if (
                len(other) >= _MIN_MERGED_CHARS
                and other in lines
                and len(lines) > 1
                and strip_image_tags(turns[j].source).strip() not in turn.source
            ):
                hits.append(f"turn {i} also holds turn {j}'s text ({other[:30]!r})")
    return [Reason("structure.merged_turn", "; ".join(hits))] if hits else []


@register("structure")
def check_structure(record: Record, params: dict) -> list[Reason]:
    """Roles are human/gpt, alternate from human, end on gpt; no empty turn; every turn keeps its source; no turn
    holds its neighbour's text."""
    return roles(record) + empty_turns(record) + sources_complete(record) + merged_turns(record)

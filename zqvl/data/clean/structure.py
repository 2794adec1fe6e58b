"""structure: the conversation's shape is wrong — roles translated or out of order, empty turns, lost sources.

Training relies on human/gpt alternation starting with human and ending with an answer; a translator that
renames roles (`用户`, `助手`), drops or duplicates a turn, or returns an empty string breaks that silently.
"""
from __future__ import annotations

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import strip_image_tags
from zqvl.data.schema import GPT, HUMAN, Record


@register("structure")
def check_structure(record: Record, params: dict) -> list[Reason]:
    """Roles are human/gpt, alternate from human, end on gpt; no empty turn; every turn keeps its source."""
    reasons: list[Reason] = []
    turns = record.turns
    odd = [f"turn {i}: {t.raw_role or t.role!r}" for i, t in enumerate(turns) if t.role not in (HUMAN, GPT)]
    if odd:
        reasons.append(Reason("structure.role_name", "unknown role name (translated?): " + "; ".join(odd)))
    expected = [HUMAN if i % 2 == 0 else GPT for i in range(len(turns))]
    roles = [t.role for t in turns]
    if not odd and roles != expected:
        if roles[0] != HUMAN:
            reasons.append(Reason("structure.order", f"first turn is {roles[0]!r}, expected 'human'"))
        else:
            bad = next(i for i, (r, e) in enumerate(zip(roles, expected)) if r != e)
            reasons.append(Reason("structure.order", f"turn {bad} is {roles[bad]!r} where {expected[bad]!r} "
                                  f"should follow (roles: {' '.join(roles)})"))
    elif not odd and roles[-1] != GPT:
        reasons.append(Reason("structure.ends_on_human", f"{len(turns)} turns, the last one is a question"))
    empty = []
    for i, t in enumerate(turns):
        if not strip_image_tags(t.value).strip():
            # A bare "<image>" question is a valid LLaVA form when the source is bare too.
            if t.source is None or strip_image_tags(t.source).strip() or not t.value.strip():
                empty.append(i)
    if empty:
        reasons.append(Reason("structure.empty_turn", "empty or whitespace-only value in turn " +
                              ", ".join(map(str, empty))))
    with_source = [t.source is not None for t in turns]
    if any(with_source) and not all(with_source):
        missing = [str(i) for i, s in enumerate(with_source) if not s]
        reasons.append(Reason("structure.source_missing", "translated record, but turn " + ", ".join(missing) +
                              " has no source"))
    return reasons

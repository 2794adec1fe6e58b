"""Structure: roles known and in order, no empty turn, a translated record's source on every turn.

Training relies on human/gpt alternation starting with human and ending with an answer, after an optional
leading system turn (the record's own system prompt; anywhere else it is `structure.system_not_first`); a translator that
renames roles (`用户`, `助手`), drops or duplicates a turn, or returns an empty string breaks that silently.
"""

from __future__ import annotations

from zqvl.data.checks.reason import Reason
from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, SYSTEM, Record


def _blank(text: str) -> bool:
    return not text.replace(IMAGE_TAG, " ").strip()


def roles(record: Record, *, answer_last: bool = True) -> list[Reason]:
    """Every role is human/gpt (after an optional leading system turn), they alternate from human, and (with
    `answer_last`) the last one is gpt.

    At most one reason: order is judged only when every role is known and no system turn is misplaced, the
    ending only when the order holds. Turn numbers in messages count the system turn (as the file does).
    """
    turns = record.turns
    odd = [f"turn {i}: {t.raw_role or t.role!r}" for i, t in enumerate(turns) if t.role not in (HUMAN, GPT, SYSTEM)]
    if odd:
        return [Reason("structure.role_name", "unknown role name (translated?): " + "; ".join(odd))]
    misplaced = [str(i) for i, t in enumerate(turns) if t.role == SYSTEM and i > 0]
    if misplaced:
        return [
            Reason(
                "structure.system_not_first",
                "system turn at turn " + ", ".join(misplaced) + ": a system prompt may only be the first turn",
            )
        ]
    first = len(turns) - len(record.dialogue)  # 1 when a system turn leads, else 0
    names = [t.role for t in record.dialogue]
    if not names:
        return [Reason("structure.order", "only a system turn: no question follows it")]
    expected = [HUMAN if i % 2 == 0 else GPT for i in range(len(names))]
    bad = next((i for i, (r, e) in enumerate(zip(names, expected)) if r != e), None)
    if bad == 0:
        return [
            Reason(
                "structure.order",
                f"first turn is {names[0]!r}, expected 'human'" + (" after the system turn" if first else ""),
            )
        ]
    if bad is not None:
        return [
            Reason(
                "structure.order",
                f"turn {bad + first} is {names[bad]!r} where {expected[bad]!r} should "
                f"follow (roles: {' '.join(t.role for t in turns)})",
            )
        ]
    if answer_last and names and names[-1] != GPT:
        return [Reason("structure.ends_on_human", f"{len(turns)} turns, the last one is a question")]
    return []


def empty_turns(record: Record) -> list[Reason]:
    """Turns with nothing but whitespace (and tags). A question that is only `<image>` is a valid LLaVA form,
    unless its source asked something: then the translation lost the question. An empty leading system turn
    is an explicit "no system prompt" (rendered as none), unless its source had one."""
    empty = [
        i
        for i, t in enumerate(record.turns)
        if _blank(t.value)
        and not (
            (t.role == HUMAN and IMAGE_TAG in t.value or t.role == SYSTEM and i == 0)
            and (t.source is None or _blank(t.source))
        )
    ]
    if not empty:
        return []
    return [Reason("structure.empty_turn", "empty or whitespace-only value in turn " + ", ".join(map(str, empty)))]


def sources_complete(record: Record) -> list[Reason]:
    """A translated record keeps its English on every turn (or on none: then it is not a translation)."""
    missing = [str(i) for i, t in enumerate(record.turns) if t.source is None]
    if not missing or len(missing) == len(record.turns):
        return []
    return [Reason("structure.source_missing", "translated record, but turn " + ", ".join(missing) + " has no source")]

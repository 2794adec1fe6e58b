"""placeholder: the `<image>` tag went missing, was duplicated, moved or mangled by the translator.

The checks themselves are zqvl.data.checks.placeholders (validate and training run the same ones).
"""

from __future__ import annotations

from zqvl.data.checks import Reason, in_answer, look_alikes, moved, tag_count
from zqvl.data.clean.registry import register
from zqvl.data.schema import Record


@register("placeholder")
def check_placeholder(record: Record, params: dict) -> list[Reason]:
    """One exact `<image>` per image, in the same turns as the source (in questions without one), no look-alike."""
    placement = tag_count(record) or (moved(record) if record.has_source else in_answer(record))
    return look_alikes(record) + placement

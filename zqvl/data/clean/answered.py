"""answered: the translator answered the question instead of translating it.

A faithful translation keeps the mood of the sentence: when the source ends on a question, so does the Chinese
(a ？, or a question word or particle such as 什么, 哪, 几, 吗, 是否). "What color is the bus?" coming back as
"公交车是红色的。" is an answer the translator made up, and a model trained on it learns to answer the wrong
question. Role-agnostic: a gpt turn that ends by asking something is translated as a question too.
"""

from __future__ import annotations

import re

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import mask_protected, strip_image_tags
from zqvl.data.schema import Record

_ENDS_ON_QUESTION = re.compile(r"\?[\"'”’)\]\s]*$")
_INTERROGATIVE = re.compile(
    r"[?？]|什么|怎么|怎样|如何|为什么|为何|哪|谁|几|多少|多大|多长|多久|多高|多远|吗|呢|是否|能否|可否|有没有|是不是|对不对|要不要"
)


@register("answered", needs_source=True)
def check_answered(record: Record, params: dict) -> list[Reason]:
    """A turn whose source ends on a question mark comes back with no question in it."""
    hits = []
    for i, turn in enumerate(record.turns):
        if turn.source is None or not _ENDS_ON_QUESTION.search(turn.source.strip()):
            continue
        # Quoted text is looked at too: `把“How are you?”翻译成法语` keeps its question inside the quote.
        value = strip_image_tags(turn.value)
        if not _INTERROGATIVE.search(value):
            hits.append(f"turn {i}: {mask_protected(value).strip()[:40]!r}")
    if not hits:
        return []
    return [Reason("answered.not_a_question", "a question came back as a statement: " + "; ".join(hits))]

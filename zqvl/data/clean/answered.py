"""answered: the translator answered the question instead of translating it.

A faithful translation keeps the mood of the sentence: when the source ends on a question, so does the Chinese
(a ？, or a question word or particle such as 什么, 哪, 几, 吗, 是否). "What color is the bus?" coming back as
"公交车是红色的。" is an answer the translator made up, and a model trained on it learns to answer the wrong
question. Role-agnostic: a gpt turn that ends by asking something is translated as a question too.

The same holds for a request: a human turn whose source is an instruction ("Summarize the poster in one
sentence.", "Please describe the scene.") must still ask for something in Chinese — a directive verb or particle
(总结, 描述, 请, 列出, …) or a question. A plain statement in its place is the instruction carried out.
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import CACHE, mask_protected, strip_image_tags
from zqvl.data.schema import Record

_ENDS_ON_QUESTION = re.compile(r"\?[\"'”’)\]\s]*$")
_INTERROGATIVE = re.compile(
    r"[?？]|什么|怎么|怎样|如何|为什么|为何|哪|谁|几|多少|多大|多长|多久|多高|多远|吗|呢|是否|能否|可否|有没有|是不是|对不对|要不要"
)


# An instruction in English starts with its verb (after a courtesy word); the list is of verbs that open requests
# to an assistant about an image or a text, not of any one data set's wording.
_OPENERS = r"(?:(?:please|kindly|now|also|then|next|finally|first|lastly)\b[\s,]*)*"
_IMPERATIVE = re.compile(
    r"^\W*" + _OPENERS + r"(?:summari[sz]e|describe|explain|list|write|tell|give|read|translate|identify|provide|"
    r"transcribe|name|count|analy[sz]e|compare|imagine|suggest|create|generate|determine|find|look|check|"
    r"classify|rate|detect|estimate|convert|answer|choose|select|pick|point|elaborate|share|discuss|evaluate|"
    r"interpret|outline|recommend|show|extract|compose|draft|rewrite|paraphrase|state|mention|specify|indicate|"
    r"infer|predict|guess|locate|spot|highlight|label|sort|rank|complete|fill|continue|examine|assess|review|"
    r"critique|justify|draw|design|propose|brainstorm|craft|help|focus|observe|caption)\b",
    re.IGNORECASE,
)
# What a Chinese request carries: a directive verb, a courtesy or softening particle, or a question.
_DIRECTIVE = re.compile(
    r"请|帮|给|告诉|说|讲|谈|聊|描述|描写|形容|介绍|解释|说明|阐述|阐明|总结|概括|概述|归纳|列|写|读|念|翻译|译|识别|"
    r"辨认|辨别|指出|找|查|提供|转录|抄|提取|摘|分析|比较|对比|想象|假设|建议|推荐|创作|创建|创造|编|生成|判断|确定|"
    r"看|检查|核对|分类|归类|评价|评估|评分|打分|估|计算|统计|数|转换|回答|选|挑|展开|详细|分享|讨论|解读|制作|做|画|"
    r"绘|展示|显示|设计|起|命名|取|标|圈|排|整理|改|润色|续|补充|完成|预测|推测|推断|猜|思考|考虑|注意|观察|关注|"
    r"用|一下|吧|麻烦|能不能|可以|劳驾"
)


def _instruction_source(source: str) -> bool:
    text = strip_image_tags(source).strip()
    return len(text.split()) >= 3 and not _ENDS_ON_QUESTION.search(text) and bool(_IMPERATIVE.search(text))


@lru_cache(maxsize=CACHE)
def _turn_answered(role: str, value: str, source: str) -> tuple[str, str] | None:
    """("question" | "instruction", the start of the turn) when this turn lost its question or request; cached,
    as questions recur across a set."""
    # Quoted text is looked at too: `把“How are you?”翻译成法语` keeps its question inside the quote.
    value = strip_image_tags(value)
    if _ENDS_ON_QUESTION.search(source.strip()):
        if not _INTERROGATIVE.search(value):
            return "question", mask_protected(value).strip()[:40]
    elif role == "human" and _instruction_source(source):
        if not _INTERROGATIVE.search(value) and not _DIRECTIVE.search(value):
            return "instruction", mask_protected(value).strip()[:40]
    return None


@register("answered", needs_source=True)
def check_answered(record: Record, params: dict) -> list[Reason]:
    """A turn whose source ends on a question mark comes back with no question in it; a human turn whose source
    is an instruction comes back with no request in it."""
    questions, instructions = [], []
    for i, turn in enumerate(record.turns):
        if turn.source is None:
            continue
        found = _turn_answered(turn.role, turn.value, turn.source)
        if found is not None:
            kind, shown = found
            (questions if kind == "question" else instructions).append(f"turn {i}: {shown!r}")
    reasons = []
    if questions:
        reasons.append(
            Reason("answered.not_a_question", "a question came back as a statement: " + "; ".join(questions))
        )
    if instructions:
        reasons.append(
            Reason(
                "answered.instruction_done",
                "an instruction came back carried out, not translated: " + "; ".join(instructions),
            )
        )
    return reasons

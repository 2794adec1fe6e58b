"""answered: the translator answered the question instead of translating it.

A faithful translation keeps the mood of the sentence: when the source ends on a question, so does the Chinese
(a ？, or a question word or particle such as 什么, 哪, 几, 吗, 是否). "What color is the bus?" coming back as
"公交车是红色的。" is an answer the translator made up, and a model trained on it learns to answer the wrong
question. Role-agnostic: a gpt turn that ends by asking something is translated as a question too.

The same holds for a request: a human turn whose source is an instruction ("Summarize the poster in one
sentence.", "Please describe the scene.") must still ask for something in Chinese — a directive verb or particle
(总结, 描述, 请, 列出, …) or a question. A plain statement in its place is the instruction carried out.

And a human turn that came back as the answer reads like the gpt turn after it: "Read the text on the sign." →
"标志上写着“STOP”。" before the answer "标志上写着“STOP”。". Questions often echo their answers ("Is the man
wearing a hat?" / "Yes, the man is wearing a hat."), so the Chinese pair counts as a copy only when it shares
far more than the English pair does.

A gpt turn can also be replaced by another answer altogether ("The cat is asleep on a stack of old books." →
"这只猫正蹲在窗台上，盯着窗外的小鸟。"): it then keeps few of its source's content anchors (anchors.py).
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.anchors import anchors_lost
from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import CACHE, FUNCTION_WORDS, mask_protected, strip_image_tags
from zqvl.data.schema import GPT, HUMAN, Record

_ENDS_ON_QUESTION = re.compile(r"\?[\"'”’)\]\s]*$")
# 几 also means "a few" (几朵白云, 几乎): it asks only in a clause that ends on a question mark or ends the text.
_INTERROGATIVE = re.compile(
    r"[?？]|什么|怎么|怎样|如何|为什么|为何|哪|谁|几(?!乎|何)[^。！!；;，,]*(?:[?？]|$)|多少|多大|多长|多久|多高|多远|吗|呢|"
    r"是否|能否|可否|有没有|是不是|对不对|要不要"
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


# Character bigrams of the Chinese, words of the English (function words do not make two sentences alike).
_TEXT_CHARS = re.compile(r"[\w\u3400-\u9fff]+")
_EN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_EN_FUNCTION_WORDS = FUNCTION_WORDS | frozenset(  # plus the question words, pronouns and modals questions use
    "am do does did here what which who whom whose how why when where could may might i me my them him so if no yes".split()
)
ECHO_MIN_BIGRAMS = 4  # a shorter question ("是什么？") shares its few bigrams with many answers
ECHO_ZH_SHARE = 0.9  # this much of the question's Chinese is in the answer's (no faithful pair of the dev sets,
ECHO_MARGIN = 0.3  # the cases or the bench set reaches 0.85) and this much more than of its English


@lru_cache(maxsize=CACHE)
def _bigrams(text: str) -> tuple[str, ...]:
    """The character pairs of a turn's words and Chinese runs (none across punctuation), each once."""
    runs = _TEXT_CHARS.findall(strip_image_tags(text).lower())
    return tuple(dict.fromkeys(r[i : i + 2] for r in runs for i in range(len(r) - 1)))


def _content_words(text: str) -> frozenset[str]:
    return frozenset(_EN_WORD.findall(strip_image_tags(text).lower())) - _EN_FUNCTION_WORDS


@lru_cache(maxsize=CACHE)
def _echoes_answer(question: str, question_source: str, answer: str, answer_source: str) -> bool:
    """The human turn's Chinese is mostly in the gpt turn's Chinese, though their English has little in common."""
    asked = _bigrams(question)
    if len(asked) < ECHO_MIN_BIGRAMS:
        return False
    # Pairs are looked up in the answer's text, and the count stops once too many are missing: most
    # questions miss their first pairs, so this costs a few substring searches a turn.
    text, allowed = answer.lower(), int(len(asked) * (1 - ECHO_ZH_SHARE) + 1e-9)  # 1 of 10 may miss
    missing = 0
    for pair in asked:
        if pair not in text:
            missing += 1
            if missing > allowed:
                return False
    words = _content_words(question_source)
    en_share = len(words & _content_words(answer_source)) / len(words) if words else 0.0
    return 1 - missing / len(asked) - en_share >= ECHO_MARGIN


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


def _says_else(source: str, value: str, params: dict) -> str | None:
    """The anchors a turn lost, when it keeps too few of them to be the same text."""
    found = anchors_lost(source, value, params["min_anchors"], params["max_kept_anchor_share"])
    if found is None:
        return None
    kept, lost = found
    return f"{len(kept)} of {len(kept) + len(lost)} kept, none of {', '.join(sorted(lost))}"


@register("answered", needs_source=True)
def check_answered(record: Record, params: dict) -> list[Reason]:
    """A turn whose source ends on a question mark comes back with no question in it; a human turn whose source
    is an instruction comes back with no request in it, or as the answer that follows it; a turn keeps few of
    its source's concrete words."""
    questions, instructions, elsewise = [], [], []
    for i, turn in enumerate(record.turns):
        if turn.source is None:
            continue
        found = _turn_answered(turn.role, turn.value, turn.source)
        if found is not None:
            kind, shown = found
            (questions if kind == "question" else instructions).append(f"turn {i}: {shown!r}")
        lost = _says_else(turn.source, turn.value, params)
        if lost is not None:
            elsewise.append(f"turn {i}: {lost}")
    echoes = [
        f"turn {i}: {mask_protected(strip_image_tags(turn.value)).strip()[:40]!r}"
        for i, (turn, reply) in enumerate(zip(record.turns, record.turns[1:]))
        if turn.role == HUMAN
        and reply.role == GPT
        and turn.source is not None
        and reply.source is not None
        and _echoes_answer(turn.value, turn.source, reply.value, reply.source)
    ]
    reasons = []
    if elsewise:
        reasons.append(Reason("answered.other_content", "says something other than its source: " + "; ".join(elsewise)))
    if echoes:
        reasons.append(Reason("answered.echoes_answer", "a question came back as its own answer: " + "; ".join(echoes)))
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

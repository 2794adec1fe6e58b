"""Realistic machine-translation defects for `zqvl-data synth --defects`: one per chosen record.

Each family mirrors what `zqvl-data clean` looks for (same names as its families where one exists) and
edits the Chinese `value` of one turn, leaving `source` as it was — exactly what a bad translator produces.
`answered` (the translator answered the question instead of translating it) has no clean family yet: it
measures a gap. A family that cannot apply to a record (no sign to mistranslate, no count to change) is
skipped for the next one, so every chosen record really carries one defect.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from zqvl.data.schema import IMAGE_TAG

Turns = list[dict]
_CJK = re.compile(r"[\u4e00-\u9fff]")

PREAMBLES = ("以下是翻译：", "翻译如下：\n", "译文：", "好的，以下是翻译：\n", "好的，这是中文翻译：")
CLOSINGS = ("希望对您有帮助！", "如需调整译文，请告诉我。")
REFUSALS = (
    "抱歉，我无法描述这张图片。",
    "作为一个AI语言模型，我无法看到图片。",
    "抱歉，我不能翻译这段内容。",
    "对不起，我无法完成这个翻译请求。",
)
MANGLED_TAGS = ("<图像>", "<图片>", "< image >", "<IMAGE>", "＜image＞")
OTHER_COUNT = {"两个": "三个", "三个": "两个"}
COUNT_WORDS = {"两个": "two", "三个": "three"}


def _answers(turns: Turns) -> list[int]:
    return [i for i, t in enumerate(turns) if t["from"] == "gpt"]


def preamble(turns: Turns, facts: dict, rng: random.Random) -> bool:
    i = rng.choice(_answers(turns))
    if rng.random() < 0.75:
        turns[i]["value"] = rng.choice(PREAMBLES) + turns[i]["value"]
    else:
        turns[i]["value"] += rng.choice(CLOSINGS)
    return True


def refusal(turns: Turns, facts: dict, rng: random.Random) -> bool:
    turns[rng.choice(_answers(turns))]["value"] = rng.choice(REFUSALS)
    return True


def repetition(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """A decoding loop: the last few characters or the whole answer, back to back."""
    i = rng.choice(_answers(turns))
    value = turns[i]["value"]
    if rng.random() < 0.5:
        turns[i]["value"] = value * rng.randint(4, 6)
        return True
    body = value.rstrip("。")
    unit = body[-rng.randint(2, 3) :]
    turns[i]["value"] = body + unit * rng.randint(6, 9)
    return True


def truncation(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """Cut a long answer mid-sentence, at a Chinese character (sometimes right after a comma)."""
    long = [i for i in _answers(turns) if len(turns[i]["source"].split()) >= 6 and len(turns[i]["value"]) >= 10]
    if not long:
        return False
    i = rng.choice(long)
    value = turns[i]["value"]
    cut = rng.randint(int(len(value) * 0.4), int(len(value) * 0.7))
    while cut > 2 and not _CJK.match(value[cut - 1]):
        cut -= 1
    turns[i]["value"] = value[:cut] + ("，" if rng.random() < 0.3 else "")
    return True


def untranslated(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """The English left as it was: a whole answer, or (in a description) every sentence after the first."""
    i = max(_answers(turns), key=lambda k: len(turns[k]["source"]))
    value, source = turns[i]["value"], turns[i]["source"]
    first_zh, _, rest_zh = value.partition("。")
    first_en, _, rest_en = source.partition(". ")
    if rest_zh and rest_en and rng.random() < 0.5:
        turns[i]["value"] = first_zh + "。" + rest_en
    else:
        turns[i]["value"] = source
    return True


def script(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """Traditional characters (OpenCC's Simplified→Traditional) in one answer, or in the whole record."""
    import opencc

    s2t = opencc.OpenCC("s2t")
    targets = [
        i
        for i in _answers(turns)
        if sum(a != b for a, b in zip(turns[i]["value"], s2t.convert(turns[i]["value"]))) >= 2
    ]
    if not targets:
        return False
    chosen = range(len(turns)) if rng.random() < 0.3 else [rng.choice(targets)]
    for i in chosen:
        turns[i]["value"] = s2t.convert(turns[i]["value"])
    return True


def numbers(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """The count changed (两个 → 三个) where the English says it."""
    word = facts["count_zh"]
    hits = [
        i
        for i in _answers(turns)
        if word in turns[i]["value"] and re.search(rf"\b{COUNT_WORDS.get(word, '-')}\b", turns[i]["source"], re.I)
    ]
    if word not in OTHER_COUNT or not hits:
        return False
    i = rng.choice(hits)
    turns[i]["value"] = turns[i]["value"].replace(word, OTHER_COUNT[word])
    return True


def ocr(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """The sign's word translated instead of kept verbatim."""
    sign = facts["sign"]
    quoted = f"“{sign}”"
    hits = [i for i in _answers(turns) if sign and quoted in turns[i]["value"]]
    if not hits:
        return False
    i = rng.choice(hits)
    zh = facts["sign_zh"]
    turns[i]["value"] = turns[i]["value"].replace(quoted, f"“{zh}”" if rng.random() < 0.6 else zh)
    return True


def placeholder(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """`<image>` mangled by the translator (this one lives in the first question, where the tag is)."""
    turns[0]["value"] = turns[0]["value"].replace(IMAGE_TAG, rng.choice(MANGLED_TAGS), 1)
    return True


def answered(turns: Turns, facts: dict, rng: random.Random) -> bool:
    """The question answered instead of translated: the human turn says what the answer says."""
    k = rng.randrange(len(turns) // 2)
    human, gpt = turns[2 * k], turns[2 * k + 1]
    tag = IMAGE_TAG + "\n" if human["value"].startswith(IMAGE_TAG) else ""
    human["value"] = tag + gpt["value"]
    return True


FAMILIES: dict[str, Callable[[Turns, dict, random.Random], bool]] = {
    "preamble": preamble,
    "refusal": refusal,
    "repetition": repetition,
    "truncation": truncation,
    "untranslated": untranslated,
    "script": script,
    "numbers": numbers,
    "ocr": ocr,
    "placeholder": placeholder,
    "answered": answered,
}


def inject(turns: Turns, facts: dict, preferred: str, rng: random.Random) -> str:
    """Apply one defect (the `preferred` family if it applies, else another) in place; return its family."""
    others = [f for f in FAMILIES if f != preferred]
    rng.shuffle(others)
    for family in [preferred] + others:
        if FAMILIES[family](turns, facts, rng):
            return family
    raise AssertionError("preamble always applies")

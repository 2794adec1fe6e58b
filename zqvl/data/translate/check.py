"""Is a model's answer a clean Simplified Chinese translation of the masked body? Reject what LLMs add.

Rejected (and retried with feedback): an empty answer, a preamble ("以下是翻译：", "Here is…"), a refusal
("抱歉，我无法…"), commentary ("（注：…）", extra paragraphs), lost/duplicated/invented placeholders, text
that is still English or not Chinese at all, English sentences of the source kept beside the Chinese, an
answer far longer than the source could explain.
Repaired instead of rejected: quotes or a code fence wrapped around the whole answer, `⟦ 1 ⟧` spacing, and
Traditional characters when only the script is wrong (opencc t2s; placeholders shield the protected spans).
Each check is source-aware: an English source that itself apologises or says "Note:" may do so in Chinese.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from zqvl.data.translate.spans import PLACEHOLDER, Masked, placeholder_problem

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SPACED_PLACEHOLDER = re.compile(r"⟦\s*(\d+)\s*⟧")

_PREAMBLE = re.compile(
    r"^\s*(?:(?:好的|当然|没问题|OK|Sure)[，,。!！:：]?\s*)?"
    r"(?:(?:以下|下面|这)是[^\n]{0,16}?(?:翻译|译文)|(?:中文)?(?:翻译|译文)(?:结果|如下)?\s*[:：]|"
    r"(?:Here\s+is|Here's)\b[^\n]{0,40}?translation|Translation\s*:)", re.I)
_ACK = re.compile(r"^\s*(?:好的|当然|没问题|当然可以)\s*[，,。!！]")
_SOURCE_ACK = re.compile(r"^\s*(?:sure|ok|okay|of course|certainly|yes|absolutely|no problem|naturally|obviously|"
                         r"clearly|indeed|well|alright|all right|good|great|fine|right)\b", re.I)
_REFUSAL = re.compile(
    r"(?:抱歉|对不起|很遗憾)[，,]?\s*(?:但)?(?:我|作为)|我(?:无法|不能|没法)(?:翻译|提供|协助|帮助|完成)|"
    r"作为(?:一个)?(?:AI|人工智能|语言模型)|I(?:'m| am) sorry|I (?:cannot|can't|can not)\b|As an AI", re.I)
_SOURCE_APOLOGY = re.compile(r"sorry|apolog|cannot|can't|can not|unable|unfortunately|regret|as an ai|"
                             r"language model", re.I)
_COMMENTARY = re.compile(
    r"(?:^|\n|[（(])\s*(?:注|注释|备注|译注|译者注|Note|Translator'?s note)\s*[:：]|[（(](?:直译|意译|原文)", re.I)
_SOURCE_NOTE = re.compile(r"\bnotes?\b|\bremark", re.I)
_TRANSLATE_WORD = re.compile(r"translat", re.I)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WRAPPERS = [("“", "”"), ('"', '"'), ("「", "」"), ("'", "'")]


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported on first use: only translate needs it
    return opencc.OpenCC("t2s")


@dataclass
class Verdict:
    text: str | None          # the accepted masked answer (placeholders still in), or None
    code: str = ""            # why it was rejected
    detail: str = ""
    script_converted: bool = False

    @property
    def ok(self) -> bool:
        return self.text is not None


def _reject(code: str, detail: str) -> Verdict:
    return Verdict(None, code, detail)


def _unwrap(answer: str, body: str) -> str:
    """Drop quotes or a code fence the model put around the whole answer (unless the source had them)."""
    a = answer.strip()
    if a.startswith("```") and a.endswith("```") and not body.startswith("```") and len(a) > 6:
        a = re.sub(r"^```[\w-]*\n?", "", a)[:-3].strip()
    for left, right in _WRAPPERS:
        if (len(a) > 2 and a.startswith(left) and a.endswith(right) and a.count(left) == 1 + (left == right)
                and not body.startswith(left)):
            a = a[len(left):-len(right)].strip()
    return a


def _ngrams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def check_answer(masked: Masked, answer: str) -> Verdict:
    body = masked.body
    a = _SPACED_PLACEHOLDER.sub(r"⟦\1⟧", _unwrap(answer, body))
    if not a:
        return _reject("empty", "the answer is empty")
    if not _TRANSLATE_WORD.search(body) and _PREAMBLE.search(a):
        return _reject("preamble", f"starts with a preamble: {a[:30]!r}")
    if _ACK.search(a) and not _SOURCE_ACK.search(body):
        return _reject("preamble", f"starts with an acknowledgement: {a[:20]!r}")
    if _REFUSAL.search(a) and not _SOURCE_APOLOGY.search(body):
        return _reject("refusal", f"looks like a refusal: {a[:40]!r}")
    if _COMMENTARY.search(a) and not _SOURCE_NOTE.search(body):
        return _reject("commentary", "adds a note or comment")
    if len(_PARAGRAPH_BREAK.findall(a)) > len(_PARAGRAPH_BREAK.findall(body)):
        return _reject("commentary", "adds a paragraph the source does not have")
    problem = placeholder_problem(masked, a)
    if problem:
        return _reject(*problem)
    plain = PLACEHOLDER.sub(" ", a)
    cjk = len(_CJK.findall(plain))
    if _KANA_HANGUL.search(plain):
        return _reject("not_chinese", "contains Japanese or Korean script")
    if cjk == 0 or len(_LATIN_WORD.findall(plain)) > cjk:
        return _reject("not_chinese", "the answer is not (mostly) Chinese")
    echoed = _ngrams(plain) & _ngrams(PLACEHOLDER.sub(" ", body))
    if echoed:
        return _reject("echoes_source", f"keeps English from the source: {' '.join(min(echoed))!r}")
    if len(plain) > 3 * len(PLACEHOLDER.sub(" ", body)) + 40:
        return _reject("too_long", f"{len(plain)} characters for a {len(body)}-character source")
    simplified = _t2s().convert(a)
    return Verdict(simplified, script_converted=simplified != a)


FEEDBACK = {
    "empty": "it was empty",
    "preamble": "it began with a preamble instead of the translation",
    "refusal": "it refused or apologised instead of translating",
    "commentary": "it added notes or comments that are not in the source",
    "placeholder_lost": "it dropped placeholders",
    "placeholder_duplicated": "it repeated placeholders",
    "placeholder_unknown": "it invented placeholders or tags",
    "not_chinese": "it was not written in Simplified Chinese",
    "echoes_source": "it kept English sentences from the source instead of translating them",
    "too_long": "it was much longer than the source",
    "content_filter": "it was blocked by a content filter",
}


def feedback(code: str, detail: str) -> str:
    """A line appended to the system prompt on a retry, so the model knows what to fix."""
    why = FEEDBACK.get(code, code)
    if code.startswith("placeholder"):
        why += f" ({detail})"
    return (f"Your previous reply was rejected because {why}. Reply again with the Simplified Chinese "
            f"translation only, copying every placeholder exactly once.")

"""Is a model's answer a clean Simplified Chinese translation of the masked body? Reject what clean would drop.

An answer is accepted only when none of clean's per-turn families (preamble, refusal, truncation, repetition,
untranslated, ocr, numbers, markdown, script, junk, answered, omission, placeholder) fires on it, run with
clean's default config on a one-turn record built from (source, translation): translate retries exactly what `zqvl-data clean` would
drop, and the retry reason is clean's code ("preamble.lead_in", "refusal.apology", …). A string's role is
unknown here (one translation serves every turn that carries it), so it is checked as an answer, the
stricter of the two; a string some human turn carries is also checked as that human turn, for clean's one
human-only check (an instruction carried out instead of translated, answered.instruction_done).

Rejected before that, by checks only translate can make: an empty answer, lost/duplicated/invented ⟦n⟧ mask
placeholders, no Chinese at all, a paragraph the source does not have, an
answer far longer than the source could explain (finish_reason is the translator's).
Repaired instead of rejected: quotes or a code fence wrapped around the whole answer, `⟦ 1 ⟧` spacing, and
Traditional characters when only the script is wrong (opencc t2s; placeholders shield the protected spans).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from zqvl.data.checks import Reason, meaning
from zqvl.data.clean import load_config, load_filters, run_filters
from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, Record, Turn
from zqvl.data.translate.spans import PLACEHOLDER, Masked, placeholder_problem

# Clean's families that judge one turn on its own (structure needs the whole conversation).
TURN_FAMILIES = (
    "placeholder",
    "preamble",
    "refusal",
    "truncation",
    "repetition",
    "untranslated",
    "ocr",
    "numbers",
    "markdown",
    "script",
    "junk",
    "answered",
    "omission",
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPACED_PLACEHOLDER = re.compile(r"⟦\s*(\d+)\s*⟧")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WRAPPERS = [("“", "”"), ('"', '"'), ("「", "」"), ("'", "'")]


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported on first use: only translate needs it

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _turn_filters() -> tuple:
    """Clean's per-turn filters as `zqvl-data clean` runs them by default (its order, its thresholds)."""
    return tuple(f for f in load_filters(config=load_config()) if f.__name__ in TURN_FAMILIES)


def clean_reasons(source: str, translation: str, asked: bool = False) -> list[Reason]:
    """What clean's per-turn families find in `translation` as the (answer) turn translating `source`, and, when
    `asked` (a human turn carries the string), as that question too."""
    found: list[Reason] = []
    for role in (GPT, HUMAN) if asked else (GPT,):
        record = Record(
            id="translate",
            images=["image"] * source.count(IMAGE_TAG),
            turns=[Turn(role=role, value=translation, source=source)],
        )
        filters = _turn_filters() if role == GPT else _human_only_filters()
        found += [r for r in run_filters(record, filters) if r not in found]  # a filter bug rejects, never crashes
    return found


@lru_cache(maxsize=1)
def _human_only_filters() -> tuple:
    """The per-turn families whose verdict depends on the turn being a human one."""
    return tuple(f for f in _turn_filters() if f.__name__ == "answered")


@dataclass
class Verdict:
    text: str | None  # the accepted masked answer (placeholders still in), or None
    code: str = ""  # why it was rejected
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
        if (
            len(a) > 2
            and a.startswith(left)
            and a.endswith(right)
            and a.count(left) == 1 + (left == right)
            and not body.startswith(left)
        ):
            a = a[len(left) : -len(right)].strip()
    return a


def _own_problem(masked: Masked, a: str) -> tuple[str, str] | None:
    """The checks clean cannot make: mask placeholders, and answers that are no Chinese translation at all."""
    body = masked.body
    if not a:
        return "empty", "the answer is empty"
    problem = placeholder_problem(masked, a)
    if problem:
        return problem
    plain = PLACEHOLDER.sub(" ", a)
    if not _CJK.search(plain):
        return "not_chinese", "the answer has no Chinese at all"
    if len(_PARAGRAPH_BREAK.findall(a)) > len(_PARAGRAPH_BREAK.findall(body)):
        return "extra_paragraph", "adds a paragraph the source does not have"
    if len(plain) > 3 * len(PLACEHOLDER.sub(" ", body)) + 40:
        return "too_long", f"{len(plain)} characters for a {len(body)}-character source"
    return None


def check_answer(masked: Masked, answer: str, asked: bool = False) -> Verdict:
    a = _SPACED_PLACEHOLDER.sub(r"⟦\1⟧", _unwrap(answer, masked.body))
    problem = _own_problem(masked, a)
    if problem:
        return _reject(*problem)
    simplified = _t2s().convert(a)
    # Clean sees the final turn: protected spans back in place, the script already repaired.
    found = clean_reasons(masked.restore(masked.body), masked.restore(simplified), asked)
    if found:
        return _reject(found[0], found[0].detail)
    return Verdict(simplified, script_converted=simplified != a)


FEEDBACK = {
    "empty": "it was empty",
    "placeholder_lost": "it dropped placeholders",
    "placeholder_duplicated": "it repeated placeholders",
    "placeholder_unknown": "it invented placeholders or tags",
    "not_chinese": "it was not written in Simplified Chinese",
    "extra_paragraph": "it added a paragraph that is not in the source",
    "too_long": "it was much longer than the source",
    "truncated": "it was cut off",
    "content_filter": "it was blocked by a content filter",
}


def feedback(code: str, detail: str) -> str:
    """A line appended to the system prompt on a retry, so the model knows what to fix."""
    why = FEEDBACK.get(code) or (f"of {meaning(code)}" if meaning(code) else code)
    if code.startswith("placeholder"):
        why += f" ({detail})"
    return (
        f"Your previous reply was rejected because {why}. Reply again with the Simplified Chinese "
        f"translation only, copying every placeholder exactly once."
    )

"""OCR fidelity: text the source quotes from the image must appear verbatim in the translation.

A model learning to read signs must see the sign's words: `“STOP”（停止）` is fine, `停止` alone is not. The
quoted strings and the `TEXT:` transcription of the source are looked up in the target after NFKC, case
and whitespace normalisation. Quotes introduced as a translation, a meaning or someone's speech are exempt.
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import (
    CACHE,
    FENCE_BLOCK_RE,
    INLINE_CODE_RE,
    LATIN_RE,
    URL_HINT_RE,
    URL_RE,
    nfkc,
    ocr_components,
    quotes,
)
from zqvl.data.schema import GPT, Record

EXEMPT_CONTEXT = re.compile(
    r"(?:translat\w*|\bmeans?|meaning|stands? for|in english|in other words|literally|so-called|known as|"
    r"\bsaid|\bsaying|\basked|\basks|\basking|\btold|\btells|\breplied|\bshout\w*|\byell\w*|\bwhisper\w*|"
    r"\bexclaim\w*|\bcalling out|\bsing\w*)"
    r"(?:\s+(?:to|as|into|is|like|roughly|something like|me|us|him|her|them))*\W*$",
    re.I,
)
# After the quote: 'how do you say "thank you" in Chinese', 'what does "RSVP" mean'.
EXEMPT_AFTER = re.compile(
    r"^\W{0,3}(?:mean|means|meant|stand for|stands for|in (?:chinese|english|french|spanish|"
    r"german|japanese|korean|italian)|translat)",
    re.I,
)
# A gloss: 'the pinyin for the Chinese greeting "hello"', 'the French word for "thank you"' give a meaning in
# lowercase English, which translates like prose; a capitalised or foreign quote there may be the word itself.
GLOSS_BEFORE = re.compile(
    r"\b(?:chinese|mandarin|cantonese|japanese|korean|french|spanish|german|italian|russian|arabic|hindi|latin|"
    r"greek)\s+(?:words?|greeting|phrase|term|expression|idiom|saying|characters?|name)(?:\s+for)?\W*$",
    re.I,
)
GLOSS_TEXT = re.compile(r"^[a-z][a-z' -]*$")
# A nickname: 'often called the "powerhouse of the cell"', 'dubbed "the big apple"' — a lowercase phrase after
# these is a figure of speech, not a name printed on something (those are capitalised: 'a shop called "Luna"').
NICKNAME_BEFORE = re.compile(r"\b(?:called|dubbed|nicknamed|termed|referred to as)(?:\s+(?:the|a|an))?\W*$", re.I)
# A human turn asking the assistant to write something: the quotes in its answer are the assistant's own
# composition (a caption, a slogan), not text read off the image, and translate like any prose.
COMPOSE_REQUEST = re.compile(
    r"\b(?:write|compose|suggest|create|come up with|make up|draft|generate|propose|think of|give)\b"
    # "a caption", "three titles": asking for a new one, not for "the title" printed on the book
    r"[^.?!]{0,40}?\b(?:a|an|some|one|two|three|four|five|few|new|another)\b(?:[\s-]+[\w-]+){0,3}?[\s-]+"
    r"(?:caption|title|slogan|tagline|name|headline|poem|haiku|tweet|post|story|joke|motto|line|quote)s?\b",
    re.I,
)
_WS = re.compile(r"\s+")
_DASHES = re.compile(r"[‐‑‒–—―−]")
_EDGE = ".,;:!?\"'“”‘’。，；：！？"


@lru_cache(maxsize=CACHE)
def _norm(text: str) -> str:
    """NFKC, case-folded, one kind of dash and quote, no whitespace (全角：drops the space after a colon)."""
    return _WS.sub("", _DASHES.sub("-", nfkc(text).casefold()).replace("“", '"').replace("”", '"'))


@lru_cache(maxsize=CACHE)
def required_strings(source: str, quotes_are_image_text: bool = True) -> tuple[str, ...]:
    """Image text the source quotes or transcribes, which the translation must keep as it is.

    A reply that is JSON (the user asked for it) quotes its values as data, not as image text."""
    need = []
    if quotes_are_image_text and source.lstrip()[:1] not in ("[", "{"):
        need = [
            q
            for q, before, after in quotes(source, True)
            if not EXEMPT_CONTEXT.search(before)
            and not EXEMPT_AFTER.search(after)
            and not ((GLOSS_BEFORE.search(before) or NICKNAME_BEFORE.search(before)) and GLOSS_TEXT.match(q))
        ]
    need += list(ocr_components(source))
    return tuple(dict.fromkeys(s for s in need if LATIN_RE.search(s)))


@lru_cache(maxsize=CACHE)
def source_links(source: str) -> tuple[str, ...]:
    """URLs and e-mail addresses of the source (outside code), which a translation copies as they are."""
    masked = INLINE_CODE_RE.sub(" ", FENCE_BLOCK_RE.sub(" ", source))
    if not URL_HINT_RE.search(masked):
        return ()
    return tuple(dict.fromkeys(u.rstrip(".,;:!?)") for u in URL_RE.findall(masked)))


@lru_cache(maxsize=CACHE)
def _asks_to_compose(question: str) -> bool:
    """The human asks for a new caption, title or slogan (cached: questions recur across a set)."""
    return COMPOSE_REQUEST.search(question) is not None


@register("ocr", needs_source=True)
def check_ocr(record: Record, params: dict) -> list[Reason]:
    """Every quoted or transcribed string of the source appears verbatim in the same turn's translation."""
    lost, links = [], []
    asked_to_compose = False
    for i, turn in enumerate(record.turns):
        if turn.source is None:
            continue
        urls = source_links(turn.source)
        if urls:
            links += [f"turn {i}: {u!r}" for u in urls if u not in turn.value]
        if turn.role != GPT:
            asked_to_compose = _asks_to_compose(turn.source)
        needed = required_strings(turn.source, not (turn.role == GPT and asked_to_compose))
        if not needed:
            continue
        target = _norm(turn.value)
        for s in needed:
            if _norm(s).strip(_EDGE) not in target:
                lost.append(f"turn {i}: {s[:60]!r}")
    reasons = [Reason("ocr.not_verbatim", "image text not kept verbatim: " + "; ".join(lost))] if lost else []
    if links:
        reasons.append(Reason("ocr.url_changed", "URL or e-mail not kept verbatim: " + "; ".join(links)))
    return reasons

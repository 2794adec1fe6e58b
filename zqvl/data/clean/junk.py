"""junk: serialization and chat-format debris from the translator's pipeline, not from the source.

Each check compares with the turn's source, so a reply that really is JSON, quoted, fenced or full of `\\n`
(the user asked for it) is kept: literal escapes (`\\n`, `\\t`, `\\"`), HTML entities and tags, a JSON wrapper
(`{"translation": "…"}`) or fragment (`…"}`), quotes or a code fence around the whole reply, and a role label
written into the text (助手：, 人类：, Assistant:) — the mark of a merged or mislabelled turn.
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, per_turn, register
from zqvl.data.clean.text import CACHE, FENCE_BLOCK_RE, INLINE_CODE_RE
from zqvl.data.schema import Record

_ESCAPE = re.compile(r"\\[ntr\"]")
_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#[0-9]{2,6}|#x[0-9a-fA-F]{2,5});")
_TAG = re.compile(r"</?(?:br|p|div|span|b|i|u|strong|em|li|ul|ol|font|hr|h[1-6])\b[^<>]{0,80}>", re.I)
_JSON_TAIL = re.compile(r"[\"”]\s*[}\]]\s*$")
_QUOTES = [('"', '"'), ("“", "”"), ("「", "」"), ("『", "』"), ("'", "'"), ("‘", "’")]
_QUOTE_OPENERS = "\"“「『'‘"
# A label at the start of a line: the Chinese role names a translator writes, and the English ones.
_ROLE_LABEL = re.compile(
    r"(?m)^[ \t]*(?:<image>\s*)?(助手|人类|用户|系统|AI助手|机器人|Assistant|Human|User|GPT|ChatGPT|System|AI|Bot)[ \t]*[:：]",
    re.I,
)
_SOURCE_LABEL = re.compile(r"(?m)^[ \t]*(?:<image>\s*)?[A-Za-z][\w ]{0,15}[ \t]*:")


def _outside_code(text: str) -> str:
    """Code keeps its escapes and markup: only the prose around it is looked at."""
    return INLINE_CODE_RE.sub(" ", FENCE_BLOCK_RE.sub(" ", text)) if "`" in text else text


def _whole_quoted(text: str) -> bool:
    t = text.strip()
    for left, right in _QUOTES:
        inner = t[len(left) : -len(right)] if len(t) > len(left) + len(right) + 1 else ""
        if inner and t.startswith(left) and t.endswith(right) and left not in inner and right not in inner:
            return True
    return False


def _markup(value: str, source: str, found: list[tuple[str, str]]) -> None:
    prose, source_prose = _outside_code(value), _outside_code(source)
    if "\\" in prose and len(_ESCAPE.findall(prose)) > len(_ESCAPE.findall(source_prose)):
        found.append(("junk.escape", "literal escape sequences: " + ", ".join(sorted(set(_ESCAPE.findall(prose))))))
    new = [m for m in dict.fromkeys(_ENTITY.findall(prose)) if m not in source] if "&" in prose else []
    if new:
        found.append(("junk.entity", "HTML entities: " + " ".join(new[:4])))
    new = [m for m in dict.fromkeys(_TAG.findall(prose)) if m.lower() not in source.lower()] if "<" in prose else []
    if new:
        found.append(("junk.html_tag", "HTML tags: " + " ".join(new[:4])))


@lru_cache(maxsize=CACHE)
def turn_junk(value: str, source: str) -> tuple[tuple[str, str], ...]:
    """(code, detail) for each kind of debris in `value` that `source` does not explain (cached: questions recur)."""
    return tuple(_turn_junk(value, source))


def _turn_junk(value: str, source: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    # Most turns have none of the three (an <image> tag is not markup).
    if "\\" in value or "&" in value or value.count("<") > value.count("<image>"):
        _markup(value, source, found)
    v, s = value.strip(), source.strip()
    if not v:
        return found  # an empty turn is structure's finding (and "" is "in" every string below)
    if v[:1] in "{[" and s[:1] != v[:1]:
        found.append(("junk.json", f"starts as JSON ({v[:24]!r}) where the source does not"))
    elif v[-1:] in "}]" and _JSON_TAIL.search(v[-8:]) and not _JSON_TAIL.search(s[-8:]) and s[-1:] not in "}]":
        found.append(("junk.json", f"ends in a JSON fragment ({v[-12:]!r})"))
    if v[:1] == "`" and v.startswith("```") and v.endswith("```") and len(v) > 6 and "```" not in s:
        found.append(("junk.wrapped", "a code fence around the whole reply"))
    elif v[:1] in _QUOTE_OPENERS and _whole_quoted(v) and s[:1] not in _QUOTE_OPENERS:
        found.append(("junk.wrapped", f"quotes around the whole reply ({v[:1]}…{v[-1:]})"))
    labels = _ROLE_LABEL.findall(value) if (":" in value or "：" in value) else []
    if labels and not _SOURCE_LABEL.search(source):
        found.append(("junk.role_label", "a role label in the text: " + ", ".join(dict.fromkeys(labels))))
    return found


# Without a source a JSON or quoted reply may be what the user asked for; the rest is debris either way.
_NEED_SOURCE = {"junk.json", "junk.wrapped"}


@register("junk")
def check_junk(record: Record, params: dict) -> list[Reason]:
    """Escapes, HTML, JSON wrappers, whole-reply quotes/fences and role labels the source does not have."""
    return per_turn(
        record,
        lambda turn: (
            (code, detail)
            for code, detail in turn_junk(turn.value, turn.source or "")
            if turn.source is not None or code not in _NEED_SOURCE
        ),
    )

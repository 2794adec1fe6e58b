"""markdown: fences balanced, code unchanged, list / heading / table structure preserved.

A dropped fence turns the rest of an answer into code (or code into prose); a translated identifier, string
literal or SQL keyword teaches wrong code; a list collapsed into one line loses the formatting the model is
supposed to learn. Code comments may be translated, so they are ignored when code is compared.
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import CACHE, FENCE_LINE_RE, code_blocks, inline_codes, strip_image_tags
from zqvl.data.schema import Record

LIST_ITEM_RE = re.compile(r"^[ \t]*(?:[-*+•][ \t]+|\d{1,3}(?:[.)][ \t]+|、[ \t]*))\S", re.M)  # "1、" needs no space
HEADING_RE = re.compile(r"^[ \t]*#{1,6}(?=[ \t]+\S)", re.M)
TABLE_ROW_RE = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.M)
SEPARATOR_ROW_RE = re.compile(r"^[ \t]*\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*$", re.M)
COLLAPSED_TABLE_RE = re.compile(r"\|[ \t]*:?-{3,}:?[ \t]*\|.*[^\s|:-].*\|", re.M)
COLLAPSED_LIST_RE = re.compile(
    r"[：:][ \t]*(?:[-*•]|\d[.)、])[ \t]+[^\n]+?[ \t](?:[-*•]|\d[.)、])[ \t]+[^\n]+?"
    r"[ \t](?:[-*•]|\d[.)、])[ \t]+\S"
)
MARKUP_HINT_RE = re.compile(r"[`|#~*]|\n|\]\(")
LINK_RE = re.compile(r"\[[^\]\n]+\]\([^)\s]+\)")
BOLD_MARK_RE = re.compile(r"\*\*")
COMMENT_RE = re.compile(r"(?:^|(?<=\s))(?:#(?![!{\[]).*|//.*|--\s.*)$|/\*.*?\*/", re.M | re.S)


@lru_cache(maxsize=CACHE)
def code_signature(code: str) -> str:
    """Code without comments, trailing spaces and blank lines: what a translation must not touch."""
    code = COMMENT_RE.sub("", code)
    return "\n".join(line.rstrip() for line in code.split("\n") if line.strip())


def _count(regex: re.Pattern, text: str) -> int:
    if regex is TABLE_ROW_RE and "|" not in text:  # a table row needs a "|"
        return 0
    return len(regex.findall(text))


def _structure(turn_index: int, source: str, value: str, out: dict[str, list[str]]) -> None:
    # Fewer items that are still a list is lost content (truncation); a list run into one line is formatting.
    src_items, tgt_items = _count(LIST_ITEM_RE, source), _count(LIST_ITEM_RE, value)
    if src_items >= 2 and tgt_items <= 1:
        out.setdefault("markdown.list_collapsed", []).append(
            f"turn {turn_index}: {src_items} list items in the source, {tgt_items} here"
        )
    src_h, tgt_h = HEADING_RE.findall(source), HEADING_RE.findall(value)
    if [h.count("#") for h in src_h] != [h.count("#") for h in tgt_h]:
        out.setdefault("markdown.headings", []).append(
            f"turn {turn_index}: heading levels {[h.count('#') for h in src_h]} → {[h.count('#') for h in tgt_h]}"
        )
    src_rows, tgt_rows = _count(TABLE_ROW_RE, source), _count(TABLE_ROW_RE, value)
    if src_rows >= 2 and (tgt_rows <= 1 or not SEPARATOR_ROW_RE.search(value) and SEPARATOR_ROW_RE.search(source)):
        out.setdefault("markdown.table", []).append(
            f"turn {turn_index}: {src_rows} table rows → {tgt_rows}" + ("" if tgt_rows <= 1 else " (no separator row)")
        )


def _inline(turn_index: int, source: str, value: str, out: dict[str, list[str]]) -> None:
    """Links and bold: a translator writing （…） for (…) or dropping one ** breaks how the reply renders."""
    src_links, tgt_links = len(LINK_RE.findall(source)), len(LINK_RE.findall(value))
    if tgt_links < src_links:
        out.setdefault("markdown.links", []).append(f"turn {turn_index}: {src_links} links in the source, {tgt_links}")
    src_bold, tgt_bold = len(BOLD_MARK_RE.findall(source)), len(BOLD_MARK_RE.findall(value))
    if src_bold % 2 == 0 and (tgt_bold % 2 or tgt_bold < src_bold):
        out.setdefault("markdown.bold", []).append(
            f"turn {turn_index}: {src_bold} ** markers in the source, {tgt_bold} here"
            + (" (unbalanced)" if tgt_bold % 2 else "")
        )


@register("markdown")
def check_markdown(record: Record, params: dict) -> list[Reason]:
    """Code fences, code and inline code, lists, headings, tables, links and bold match the source."""
    out: dict[str, list[str]] = {}
    for i, turn in enumerate(record.turns):
        value, source = turn.value, turn.source
        fences = _count(FENCE_LINE_RE, value) if "`" in value or "~" in value else 0
        if source is None:
            if fences % 2:
                out.setdefault("markdown.fence", []).append(f"turn {i}: {fences} fence lines (unbalanced)")
            if COLLAPSED_TABLE_RE.search(value):
                out.setdefault("markdown.table", []).append(f"turn {i}: table rows run together on one line")
            if COLLAPSED_LIST_RE.search(value):
                out.setdefault("markdown.list_collapsed", []).append(f"turn {i}: list items run together")
            continue
        if not MARKUP_HINT_RE.search(strip_image_tags(source).strip()) and not MARKUP_HINT_RE.search(
            strip_image_tags(value).strip()
        ):
            continue  # plain one-line prose on both sides: no markdown to compare
        src_fences = _count(FENCE_LINE_RE, source)
        if fences != src_fences:
            out.setdefault("markdown.fence", []).append(
                f"turn {i}: {src_fences} fence lines in the source, {fences} here"
            )
        elif src_fences:
            mine = {code_signature(c) for c in code_blocks(value)}
            changed = [c for c in code_blocks(source) if code_signature(c) not in mine]
            if changed:
                first = next((ln for ln in code_signature(changed[0]).split("\n") if ln), "")
                out.setdefault("markdown.code_changed", []).append(
                    f"turn {i}: code block starting {first[:50]!r} differs from the source"
                )
        lost = [c for c in inline_codes(source) if c not in value]
        if lost:
            out.setdefault("markdown.code_changed", []).append(f"turn {i}: inline code {lost[0][:40]!r} missing")
        _structure(i, source, value, out)
        _inline(i, source, value, out)
    return [Reason(code, "; ".join(hits)) for code, hits in out.items()]

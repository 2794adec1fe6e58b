"""Protected spans: text that must come back from translation byte for byte.

`<image>` tags, code, URLs and e-mail addresses, numbers with symbolic units, and text read off the image
(quoted strings, words after "reads/says/spells/labeled…", ALL-CAPS runs such as signs and logos) are
replaced by placeholders ⟦1⟧…⟦n⟧ before the text goes to the model, and put back afterwards. OCR text keeps
its original language on purpose: translating it would break the image grounding.

Leading and trailing `<image>` tags (and the whitespace around the body) are not sent at all: they are cut
off into a prefix/suffix and re-attached verbatim, which is cheaper and leaves nothing for the model to move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zqvl.data.schema import IMAGE_TAG

# Bump when the rules change: it is part of the cache key, so old answers are never reused for new masks.
MASK_VERSION = "spans-1"
PLACEHOLDER = re.compile(r"⟦(\d+)⟧")

_BRACKETS = re.compile(r"[⟦⟧]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

_UNITS = (
    r"%|‰|℃|℉|°\s?[CF]?|mm|cm|km|m|μm|nm|kg|mg|g|lbs?|oz|ft|mi|mph|km/h|kph|m/s|ml|mL|l|L|"
    r"[KMGT]B|kB|Hz|kHz|MHz|GHz|kW|W|V|mAh|px|dpi|fps|ms|sec|min|hrs?|h|"
    r"[ap]\.m\.|[ap]m|[AP]\.M\.|[AP]M|x|K|k"
)
_NUM = r"\d[\d,]*(?:\.\d+)?"
# Words that introduce text visible in the image; what follows them (quoted, after a colon, or a run of
# Capitalised words) is OCR and stays verbatim.
_READ_VERB = (
    r"\b(?:reads?|reading|says?|saying|spells?|spelling|spelled|labell?ed|titled|captioned|"
    r"inscribed|written|printed|displays?|displaying)\b(?:\s+(?:as|with|out|the\s+words?))?"
)
_CAP_WORD = r"[A-Z0-9][\w'&!-]*(?:\.[\w'&!-]+)*"  # inner dots (U.S.A), never the sentence's full stop
_HEADINGS = {"DESCRIPTION", "TEXT"}  # TextOCR-GPT4o section headings: translate, they are not image text

# (name, pattern, group): the group's span is protected. Order breaks ties between equal spans.
RULES: list[tuple[str, re.Pattern, int]] = [
    ("image_tag", re.compile(re.escape(IMAGE_TAG)), 0),
    ("code_block", re.compile(r"```.*?```|~~~.*?~~~", re.S), 0),
    ("inline_code", re.compile(r"`[^`\n]+`"), 0),
    ("url", re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]"), 0),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), 0),
    (
        "quoted",
        re.compile(
            r"\"(?=\S)[^\"\n]+?(?<=\S)\"|“[^”\n]+”|「[^」\n]+」|『[^』\n]+』|«[^»\n]+»"
            r"|(?<![\w'’])['‘](?=\S)[^'‘’\n]+?(?<=\S)['’](?![\w'’])"
        ),
        0,
    ),
    ("read_colon", re.compile(_READ_VERB + r"\s*:\s*([^\n]+?)(?=[.!?](?:\s|$)|\n|$)"), 1),
    (
        "read_caps",
        re.compile(
            _READ_VERB
            + r"\s+("
            + _CAP_WORD
            + r"(?:[ \t]+(?:(?:of|the|and|to|a|in|on|for|&)[ \t]+)*"
            + _CAP_WORD
            + r")*)"
        ),
        1,
    ),
    ("all_caps", re.compile(r"\b[A-Z][A-Z0-9&'’-]*[A-Z0-9](?:[ \t]+[A-Z][A-Z0-9&'’-]*[A-Z0-9])*\b"), 0),
    ("time", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?(?:[ap]\.m\.|[ap]m|[AP]\.M\.|[AP]M)(?!\w))?"), 0),
    ("dimensions", re.compile(r"\b" + _NUM + r"\s?[x×]\s?" + _NUM + r"(?:\s?(?:mm|cm|m|px|ft|in))?\b"), 0),
    ("currency", re.compile(r"(?<![\w.])[$€£¥₹]\s?" + _NUM + r"(?:\s?(?:[kKMB]|million|billion)\b)?"), 0),
    ("number_unit", re.compile(r"(?<![\w.])" + _NUM + r"\s?(?:" + _UNITS + r")(?![\w/])"), 0),
]


@dataclass(frozen=True)
class Masked:
    """A turn split for translation: prefix + body (with placeholders) + suffix; spans[i-1] is ⟦i⟧."""

    prefix: str
    body: str
    suffix: str
    spans: tuple[str, ...]

    @property
    def needs_model(self) -> bool:
        """False when nothing is left to translate (only tags, placeholders, digits, punctuation)."""
        return bool(_LATIN_WORD.search(PLACEHOLDER.sub(" ", self.body)))

    def restore(self, translated_body: str) -> str:
        """Put the protected spans back; the caller has checked each placeholder occurs exactly once."""
        body = PLACEHOLDER.sub(lambda m: self.spans[int(m.group(1)) - 1], translated_body)
        return self.prefix + body + self.suffix


def _is_heading(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end].strip().rstrip(":")
    return line == text[start:end] and line in _HEADINGS


def find_spans(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping protected spans (start, end, rule), earliest first; on overlap the earlier, longer wins."""
    found = []
    for order, (name, pattern, group) in enumerate(RULES):
        for m in pattern.finditer(text):
            start, end = m.span(group)
            if start == end or (name == "all_caps" and _is_heading(text, start, end)):
                continue
            found.append((start, -(end - start), order, end, name))
    found.sort()
    spans, last_end = [], 0
    for start, _, _, end, name in found:
        if start >= last_end:
            spans.append((start, end, name))
            last_end = end
    return spans


def _edges(text: str) -> tuple[int, int]:
    """End of the leading and start of the trailing run of whitespace and `<image>` tags."""
    start, end = 0, len(text)
    while True:
        start = len(text) - len(text[start:].lstrip()) if start < end else start
        if not text.startswith(IMAGE_TAG, start):
            break
        start += len(IMAGE_TAG)
    while end > start:
        end = len(text[start:end].rstrip()) + start
        if not text.endswith(IMAGE_TAG, start, end):
            break
        end -= len(IMAGE_TAG)
    return start, max(start, end)


def mask(text: str) -> Masked:
    p_end, s_start = _edges(text)
    core = text[p_end:s_start]
    parts, spans, pos = [], [], 0

    def keep(piece: str) -> None:
        # Literal ⟦ or ⟧ in the data would pass for placeholder syntax: each is protected on its own.
        last = 0
        for m in _BRACKETS.finditer(piece):
            spans.append(m.group())
            parts.append(piece[last : m.start()] + f"⟦{len(spans)}⟧")
            last = m.end()
        parts.append(piece[last:])

    for start, end, _ in find_spans(core):
        keep(core[pos:start])
        spans.append(core[start:end])
        parts.append(f"⟦{len(spans)}⟧")
        pos = end
    keep(core[pos:])
    return Masked(text[:p_end], "".join(parts), text[s_start:], tuple(spans))


def placeholder_problem(masked: Masked, answer: str) -> tuple[str, str] | None:
    """(code, detail) when the answer does not hold every placeholder exactly once and nothing else."""
    seen: dict[int, int] = {}
    for m in PLACEHOLDER.finditer(answer):
        seen[int(m.group(1))] = seen.get(int(m.group(1)), 0) + 1
    expected = range(1, len(masked.spans) + 1)
    lost = [i for i in expected if i not in seen]
    if lost:
        return "placeholder_lost", "missing " + " ".join(f"⟦{i}⟧" for i in lost)
    doubled = [i for i in expected if seen[i] > 1]
    if doubled:
        return "placeholder_duplicated", "repeated " + " ".join(f"⟦{i}⟧" for i in doubled)
    unknown = sorted(set(seen) - set(expected))
    if unknown or "⟦" in PLACEHOLDER.sub("", answer) or "⟧" in PLACEHOLDER.sub("", answer):
        return "placeholder_unknown", "unexpected placeholder in the answer"
    if IMAGE_TAG in answer:
        return "placeholder_unknown", "the answer adds an <image> tag"
    return None

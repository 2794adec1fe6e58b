"""Text analysis shared by the filters: scripts, protected spans, OCR sections, Latin runs, sentence ends.

"Protected" text is text a faithful translation keeps verbatim: code (fenced and inline), URLs, e-mails,
quoted strings and OCR transcriptions. Filters that look for English left in the Chinese (residue), or
compare lengths, first mask these spans so legitimate English never counts against a translation.
Everything here is a pure function of its string, cached, because several filters ask about the same turn.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

CACHE = 8192
CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RE = re.compile(f"[{CJK_CLASS}]")
LATIN_RE = re.compile(r"[A-Za-z]")
ALNUM_RE = re.compile(r"[A-Za-z0-9]")
# Counting by deleting everything else is about twice as fast as len(findall()) (no list of 1-char strings).
_NOT_CJK_RE = re.compile(f"[^{CJK_CLASS}]+")
_ALNUM_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
IMAGE_TAG_RE = re.compile(r"<image>")

FENCE_BLOCK_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})([^\n]*)\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
FENCE_LINE_RE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})", re.M)
INLINE_CODE_RE = re.compile(r"`([^`\n]+)`")
URL_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"“”'‘’（）()，。、；！？]+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|edu|gov|io|ai|dev|app|co|uk|de|cn|jp|fr|info|me)"
    r"\b(?:/[^\s<>\"“”（）()，。]*)?"
)
# Cheap test first: most texts have no URL, and the full pattern is slow to reject.
URL_HINT_RE = re.compile(r"://|www\.|@|\.(?:com|org|net|edu|gov|io|ai|dev|app|co|uk|de|cn|jp|fr|info|me)\b")
# Quotes: straight and curly double quotes in either language, Chinese corner brackets and single curly quotes
# in the target (an English apostrophe is a ’ without an opening ‘, so ‘…’ is safe there).
QUOTE_RE = re.compile(
    r'"([^"\n]{1,400})"|“([^”\n]{1,400})”|「([^」\n]{1,400})」|『([^』\n]{1,400})』'
    r"|‘([^’\n]{1,400})’|《([^》\n]{1,200})》"
)
# In English, a straight quote right after a digit is an inch mark (a 12" pizza), not an opening quote.
SOURCE_QUOTE_RE = re.compile(r'(?<!\d)"(?!\s)([^"\n]{1,400})"|“([^”\n]{1,400})”')
# A Latin gloss in brackets right after Chinese: 无障碍通道（wheelchair accessible entrance）.
GLOSS_RE = re.compile(f"(?<=[{CJK_CLASS}])[（(]([A-Za-z][^（）()\n]{{0,80}})[）)]")
BOLD_RE = re.compile(r"\*\*([^*\n]{1,200})\*\*")
# TextOCR-GPT4o style transcription sections: "TEXT: A / B / C" (or the label alone, lines below).
OCR_LABEL_RE = re.compile(
    r"^[ \t]*(?:\*\*)?(?:TEXT|Text|OCR(?: [Tt]ext)?|Visible [Tt]ext|Transcription)(?:\*\*)?"
    r"[ \t]*[:：](?:\*\*)?[ \t]*(.*)$",
    re.M,
)
TARGET_OCR_LABEL_RE = re.compile(
    r"^[ \t]*(?:\*\*)?(?:文字|文本|识别文字|图中文字|TEXT|Text|OCR)(?:\*\*)?"
    r"[ \t]*[:：].*$",
    re.M,
)
BRACKETED_RE = re.compile(r"^[\[(（【].*[\])）】]$")
WORD_RE = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
LATIN_RUN_RE = re.compile(r"[A-Za-z0-9$£€][A-Za-z0-9'’%$£€.,:;!?&/()\-–— ]*[A-Za-z0-9.!?%)]|[A-Za-z]")

# Lower-case tokens that are units or abbreviations rather than English prose.
NON_PROSE = frozenset(
    """am pm km kg cm mm ml oz lb lbs mph kph ft mi kwh wh min mins sec secs hr hrs px pt gb mb kb tb
ghz mhz hz db mg mcg vs etc eg ie al approx no nos""".split()
)
FUNCTION_WORDS = frozenset(
    """the a an is are was were be been of to in on at with for and or but its it this that these
those from by as has have had not can will would should there their they he she his her you your we our""".split()
)
# A run of lower-case words that starts with one of these is a shell command, not prose left untranslated.
COMMAND_WORDS = frozenset(
    """pip pip3 npm npx yarn pnpm git cd ls cp mv rm mkdir sudo apt brew python python3 node
docker kubectl curl wget make cargo go conda ssh cat grep echo""".split()
)


# Characters common in Chinese text whose NFKC form differs (full-width punctuation, the ideographic space,
# the ellipsis). Replacing a character by its own NFKC form first leaves the string's NFKC form unchanged
# (both have the same compatibility decomposition), and usually leaves nothing else to normalise: the
# quick "already normalised?" check then replaces the full algorithm, which costs ~1,000 instructions a
# character on such text.
_COMMON_COMPAT = tuple(
    (c, unicodedata.normalize("NFKC", c)) for c in "，：；！？（）％～　…" if unicodedata.normalize("NFKC", c) != c
)


@lru_cache(maxsize=CACHE)
def nfkc(text: str) -> str:
    """Full-width digits, letters and punctuation to ASCII; curly apostrophes to straight."""
    if not text.isascii():
        for char, plain in _COMMON_COMPAT:
            if char in text:
                text = text.replace(char, plain)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    return text.replace("’", "'").replace("‘", "'")


def cjk_count(text: str) -> int:
    """len(CJK_RE.findall(text))."""
    return 0 if text.isascii() else len(_NOT_CJK_RE.sub("", text))


def alnum_count(text: str) -> int:
    """len(ALNUM_RE.findall(text)), counted on UTF-8 bytes: ASCII bytes only ever encode ASCII characters."""
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw) - len(raw.translate(None, _ALNUM_BYTES))


def strip_image_tags(text: str) -> str:
    return text.replace("<image>", " ")  # IMAGE_TAG_RE.sub(" ", text), without the regex call


# Cheap exact pre-checks: each regex below needs these characters to match at all, and a substring test
# costs a fraction of a regex call that finds nothing (most turns have no code, quotes or OCR labels).
def has_fence(text: str) -> bool:
    return "```" in text or "~~~" in text  # FENCE_BLOCK_RE / FENCE_LINE_RE need one


def has_quote(text: str) -> bool:
    return '"' in text or "“" in text or "「" in text or "『" in text or "‘" in text or "《" in text  # QUOTE_RE


def has_colon(text: str) -> bool:
    return ":" in text or "：" in text  # OCR_LABEL_RE / TARGET_OCR_LABEL_RE


def strip_code(text: str, fill: str = " ") -> str:
    """FENCE_BLOCK_RE.sub(fill, ...) then INLINE_CODE_RE.sub(" ", ...), skipping either when it cannot match."""
    if has_fence(text):
        text = FENCE_BLOCK_RE.sub(fill, text)
    return INLINE_CODE_RE.sub(" ", text) if "`" in text else text


def _quote_text(m: re.Match) -> str:
    return next(g for g in m.groups() if g is not None)


@lru_cache(maxsize=CACHE)
def code_blocks(text: str) -> tuple[str, ...]:
    if not has_fence(text):
        return ()
    return tuple(m.group(3) for m in FENCE_BLOCK_RE.finditer(text))


@lru_cache(maxsize=CACHE)
def inline_codes(text: str) -> tuple[str, ...]:
    if "`" not in text:
        return ()
    no_blocks = FENCE_BLOCK_RE.sub(" ", text) if has_fence(text) else text
    return tuple(m.group(1) for m in INLINE_CODE_RE.finditer(no_blocks))


@lru_cache(maxsize=CACHE)
def quotes(text: str, source_style: bool = False) -> tuple[tuple[str, str, str], ...]:
    """(quoted text, up to 40 chars before it, up to 30 after) for each quote outside code."""
    if not ('"' in text or "“" in text if source_style else has_quote(text)):
        return ()
    masked = FENCE_BLOCK_RE.sub(lambda m: " " * len(m.group(0)), text) if has_fence(text) else text
    if "`" in masked:
        masked = INLINE_CODE_RE.sub(lambda m: " " * len(m.group(0)), masked)
    regex = SOURCE_QUOTE_RE if source_style else QUOTE_RE
    return tuple(
        (_quote_text(m).strip(), masked[max(0, m.start() - 40) : m.start()], masked[m.end() : m.end() + 30])
        for m in regex.finditer(masked)
        if _quote_text(m).strip()
    )


@lru_cache(maxsize=CACHE)
def ocr_components(text: str) -> tuple[str, ...]:
    """The pieces of a `TEXT:` transcription ("A / B / C" or one per line), minus bracketed annotations."""
    if not has_colon(text):
        return ()
    parts: list[str] = []
    lines = text.split("\n")
    for m in OCR_LABEL_RE.finditer(text):
        body = m.group(1).strip()
        if not body:  # label alone on its line: the transcription is the block below it
            start = text.count("\n", 0, m.start()) + 1
            block = []
            for line in lines[start:]:
                if not line.strip():
                    break
                block.append(line)
            body = "\n".join(block)
        for piece in re.split(r"\s+/\s+|\n", body):
            piece = piece.strip().strip("*").strip()
            if piece and not BRACKETED_RE.match(piece) and ALNUM_RE.search(piece):
                parts.append(piece)
    return tuple(parts)


def mask_urls(text: str) -> str:
    return URL_RE.sub(" ", text) if URL_HINT_RE.search(text) else text


@lru_cache(maxsize=CACHE)
def mask_protected(text: str) -> str:
    """The text with code, URLs, e-mails and quotes blanked out (lengths are not preserved)."""
    text = mask_urls(strip_code(text, " \n"))
    return QUOTE_RE.sub(" ", text) if has_quote(text) else text


@lru_cache(maxsize=CACHE)
def source_verbatim(source: str) -> tuple[str, ...]:
    """Strings in the English source that a translation keeps as they are (longest first)."""
    keep = set(ocr_components(source)) | set(inline_codes(source))
    keep |= {q for q, _, _ in quotes(source, True)}
    if "**" in source:
        keep |= {b for b in BOLD_RE.findall(source)}
    keep |= {c.strip() for c in code_blocks(source)}
    return tuple(sorted((k for k in keep if ALNUM_RE.search(k)), key=len, reverse=True))


def mask_target(value: str, source: str | None) -> str:
    """Blank out of a translated turn everything that may legitimately stay English."""
    text = strip_image_tags(value)
    if source:
        for s in source_verbatim(source):
            if s in text:
                text = text.replace(s, " ")
        if has_colon(source) and has_colon(text) and OCR_LABEL_RE.search(source):
            text = TARGET_OCR_LABEL_RE.sub(" ", text)
        # A gloss is the translator helping the reader, unless the source had the same bracketed English.
        if "（" in text or "(" in text:
            text = GLOSS_RE.sub(lambda m: m.group(0) if f"({m.group(1)})" in source else " ", text)
    return mask_protected(text)


@dataclass(frozen=True)
class LatinRun:
    text: str
    words: tuple[str, ...]
    lower: tuple[str, ...]  # lower-case prose words (no units, no abbreviations)

    @property
    def lower_share(self) -> float:
        return len(self.lower) / len(self.words) if self.words else 0.0

    @property
    def is_command(self) -> bool:
        return bool(self.words) and self.words[0] in COMMAND_WORDS


def latin_runs(masked: str) -> list[LatinRun]:
    """Maximal stretches of Latin-script text (words, digits, inner punctuation) between non-Latin text."""
    runs = []
    for m in LATIN_RUN_RE.finditer(masked):
        words = tuple(WORD_RE.findall(m.group(0)))
        lower = tuple(w for w in words if w.islower() and (len(w) > 1 or w == "a") and w not in NON_PROSE)
        runs.append(LatinRun(m.group(0).strip(), words, lower))
    return runs


@lru_cache(maxsize=CACHE)
def source_words(source: str) -> frozenset[str]:
    return frozenset(w.lower() for w in WORD_RE.findall(source))


# Sentence ends. A turn "ends properly" when its last visible character (after closing quotes, brackets,
# emphasis and code fences) is one of these.
TERMINAL = set(".!?。！？…~～")
CLOSERS = set("\"'”’」』）)]】》>*`_ \t\n")
CONTINUATION = set(",，、;；:：(（“‘「『《—-–/&")


def last_visible(text: str) -> str:
    """The last meaningful character, looking past closing quotes/brackets/emphasis; '' if none."""
    t = text.rstrip()
    if t.endswith(("```", "~~~")):
        return "`"
    i = len(t) - 1
    while i >= 0 and t[i] in CLOSERS:
        i -= 1
    return t[i] if i >= 0 else ""


def unclosed_quote(text: str) -> str | None:
    """An opening quote or bracket with nothing closing it after it, e.g. '黑板上写着“TODAY'S SOUP'."""
    pairs = {"“": "”", "「": "」", "『": "』", "（": "）", "《": "》", "【": "】"}
    for opener, closer in pairs.items():
        pos = text.rfind(opener)
        if pos >= 0 and text.find(closer, pos) < 0:
            return opener
    if text.count('"') % 2 == 1 and text.rstrip()[-1:] != '"':
        return '"'
    return None


SENTENCE_SPLIT_RE = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_SPLIT_RE.split(text) if s and s.strip()]


def nonempty_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


# Sentence ends for counting, not splitting: an English one is [.!?] before a capital, digit, quote or the end
# (not after a lone capital, "U.S."; not "Mr."/"e.g."); a Chinese one is 。！？ (or ! ?) after which text follows.
_EN_SENTENCE_END = re.compile(
    r"(?=[.!?])(?<!\b[A-Za-z])(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bvs)(?<!etc)(?<!Mrs)(?<!\.g)(?<!\.e)"
    r"[.!?]+[\"”'’)\]]*(?=\s+[A-Z\"“(0-9]|\s*$)"
)
_ZH_SENTENCE_END = re.compile(r"[。！？!?]+[”’」』）)]*")
_HAS_WORD = re.compile(r"[A-Za-z]{2}|[\u3400-\u9fff]")


def sentence_count(text: str, chinese: bool) -> int:
    """Sentences in the prose of `text` (code blocks left out), for comparing a translation with its source."""
    return len(_sentence_bounds(strip_code(text), chinese))


def sentence_spans(text: str, chinese: bool) -> list[str]:
    """The sentences sentence_count counts, as text (a stretch without a word joins none of them)."""
    prose = strip_code(text)
    return [prose[start:end] for start, end in _sentence_bounds(prose, chinese)]


def _sentence_bounds(prose: str, chinese: bool) -> list[tuple[int, int]]:
    ends = [m.end() for m in (_ZH_SENTENCE_END if chinese else _EN_SENTENCE_END).finditer(prose)]
    # Each end closes a sentence if it has a word since the previous end; the tail counts if it has one too.
    bounds, start, has_word = [], 0, _HAS_WORD.search
    for end in ends + [len(prose)]:
        if has_word(prose, start, end):
            bounds.append((start, end))
        start = end
    return bounds


_SENTENCE_CLOSERS = "\"”'’)]"  # what _EN_SENTENCE_END takes after the stop


def english_sentence_bound(text: str) -> int:
    """An upper bound of sentence_count(text, False), from counting characters (no regex).

    Every counted sentence but a trailing one ends in a match of _EN_SENTENCE_END, which holds a run of
    [.!?] (one match a run at most); the trailing one counts only when words follow the last match, which
    cannot be when the prose itself ends in [.!?] (and closers): then that last stop is a match, or the
    tail holding it replaces it in the count."""
    prose = strip_code(text)
    stops = prose.count(".") + prose.count("!") + prose.count("?")
    return stops if prose.rstrip().rstrip(_SENTENCE_CLOSERS)[-1:] in (".", "!", "?") else stops + 1


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks of prose (code blocks left out)."""
    return [p for p in re.split(r"\n[ \t]*\n", strip_code(text, "\n")) if _HAS_WORD.search(p)]

"""numbers: every number, percentage, date, time, price and measurement in the source survives translation.

Both sides are reduced to sets of values first, so legitimate re-writings pass: full-width digits and
separators (NFKC), `52,340` → `52340`, `$14.99` → `14.99美元`, `66 million` → `6600万`, `three` → `三`,
`7:30 PM` → `晚上7点半` or `19:30`, `-3°C` → `零下3°C`, `1/2` → `半`. What fails: a value with no rendering
in the target (`15%` → `50%`, `1.5 km` → `15公里`), a lost minus sign, a changed month, or a unit swapped
for another of the same kind (`250 ml` → `250升`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import CACHE, mask_urls, nfkc, strip_code
from zqvl.data.clean.units import unit_mismatch, unit_of
from zqvl.data.schema import Record

SCALE_WORDS = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
SUFFIX_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9}
WORD_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve "
        "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
WORD_NUMBERS.update(
    {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
)
# "one" is mostly a pronoun ("the one on the left"); "zero" is rare: checking them costs more than it finds.
SKIP_WORDS = {"zero", "one"}
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "January February March April May June July August September October November December".split()
    )
}

TIME_RE = re.compile(r"(?<![\d:.])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:]|[.,]\d)(?:\s?([ap])\.?m\b\.?)?", re.I)
NUM_RE = re.compile(
    r"(?<![\w.,])(?P<neg>[-−](?=\d))?(?P<cur>[$£€¥])?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d,]\d)"
    r"(?P<frac>/\d+)?(?P<suf>[A-Za-z]{1,4}\b)?(?:\s?(?P<scale>hundred|thousand|million|billion|trillion)\b)?"
    r"(?:\s?(?P<ampm>[ap])\.?m\b)?",
    re.I,
)
PLAIN_SUFFIXES = {"st", "nd", "rd", "th", "s", "am", "pm", "a", "p"}
# Number words ("Three", "twenty-five", the "two" of "two-thirds") and month names, as whole words.
WORDISH_RE = re.compile(
    r"(?<![\w-])(?:(?i:"
    + "|".join(sorted(WORD_NUMBERS, key=len, reverse=True))
    + r")(?:-[A-Za-z]+)?|"
    + "|".join(MONTHS)
    + r")(?![\w-])"
)
# The maximal runs of word characters and hyphens: WORDISH_RE's matches are exactly those runs that
# WORDISH_WORD_RE matches whole (its look-behind and look-ahead exclude [\w-] on both sides).
WORD_RUN_RE = re.compile(r"[\w-]+")
WORDISH_WORD_RE = re.compile(WORDISH_RE.pattern[len(r"(?<![\w-])") : -len(r"(?![\w-])")])
# Lower-case spellings one of which a number word that yields an item contains ("one" and "zero" yield
# none; "fourteen" contains "four", "ninety" "nine"): text without any of them has no number words.
_WORD_HINT_RE = re.compile(
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fifteen|twenty|thirty|forty|fifty"
)
_MONTH_HINT_RE = re.compile("|".join(MONTHS))
DIGIT_RE = re.compile(r"\d")
LIST_NUMBER_RE = re.compile(r"^[ \t]*\d{1,3}[.)](?=[ \t])", re.M)
EXEMPT_RE = re.compile(r"\b24/7\b")
_IDENTIFIER_DASH_RE = re.compile(r"[A-Za-z][-−]$")

CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "双": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_RUN_RE = re.compile(r"[零〇一二两俩双三四五六七八九十百千万亿]+")
CN_FRACTION_RE = re.compile(r"([零〇一二两三四五六七八九十百千\d]+)分之([零〇一二两三四五六七八九十百千\d.]+)")
TARGET_NUM_RE = re.compile(
    r"(?P<neg>(?<![0-9A-Za-z])[-−](?=\d)|零下|负)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<frac>/\d+)?\s?(?P<scale>万亿|千万|百万|亿|万|千|百)?"
)
CN_MONTH_RE = re.compile(r"(\d{1,2}|[一二三四五六七八九十]{1,3})\s?月")
TARGET_SCALES = {"万亿": 1e12, "千万": 1e7, "百万": 1e6, "亿": 1e8, "万": 1e4, "千": 1e3, "百": 1e2}


def _r(v: float) -> float:
    return round(v, 6)


def cn_value(s: str) -> float | None:
    """Value of a Chinese numeral: 十二 → 12, 一百零五 → 105, 六千六百万 → 66000000, 二〇二四 → 2024."""
    if not s:
        return None
    for big, mult in (("亿", 1e8), ("万", 1e4)):
        if big in s:
            head, tail = s.split(big, 1)
            h = cn_value(head) if head else 1
            t = cn_value(tail) if tail else 0
            return None if h is None or t is None else h * mult + t
    if not any(c in CN_UNITS for c in s):
        digits = [CN_DIGITS.get(c) for c in s]
        return None if None in digits else float("".join(map(str, digits)))
    total, digit = 0.0, None
    for c in s:
        if c in CN_DIGITS:
            digit = CN_DIGITS[c]
        elif c in CN_UNITS:
            total += (1 if digit is None else digit) * CN_UNITS[c]
            digit = None
        else:
            return None
    return total + (digit or 0)


@lru_cache(maxsize=CACHE)
def _cn_run(run: str) -> tuple[float | None, frozenset[float]]:
    """(value of a run of Chinese numerals, the values of its single digits): runs like 一 and 两 recur."""
    return cn_value(run), frozenset(float(CN_DIGITS[c]) for c in run if c in CN_DIGITS)


def _num(text: str) -> float:
    return float(text.replace(",", ""))


@lru_cache(maxsize=CACHE)
def target_values(value: str) -> frozenset[float]:
    """Every number the translated text expresses, signed, in digits, Chinese numerals or scaled (6600万)."""
    text = nfkc(value)
    vals: set[float] = set()
    for m in TARGET_NUM_RE.finditer(text) if DIGIT_RE.search(text) else ():  # every match has a digit
        v = _num(m.group("num"))
        sign = -1.0 if m.group("neg") else 1.0
        vals.add(_r(sign * v))
        if m.group("frac") and float(m.group("frac")[1:]):
            vals.add(float(m.group("frac")[1:]))
            vals.add(_r(v / float(m.group("frac")[1:])))
        if m.group("scale"):
            vals.add(_r(sign * v * TARGET_SCALES[m.group("scale")]))
    for m in CN_RUN_RE.finditer(text):
        whole, digits = _cn_run(m.group(0))
        neg = text[max(0, m.start() - 2) : m.start()] in ("零下",) or text[m.start() - 1 : m.start()] == "负"
        if whole is not None:
            vals.add(_r(-whole if neg else whole))
        vals |= digits
    for m in CN_FRACTION_RE.finditer(text) if "分之" in text else ():
        den, numer = (cn_value(g) if not g[0].isdigit() else float(g) for g in m.groups())
        if den and numer is not None:
            vals.add(_r(numer / den))
    if "半" in text:
        vals.add(0.5)
    return frozenset(vals)


def _accepted(alternatives: tuple[float, ...], values: frozenset[float], strict_sign: bool) -> bool:
    for a in alternatives:
        if _r(a) in values or (not strict_sign and _r(-a) in values):
            return True
    return False


def _word_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of the maximal runs of [\\w-] that may be a month or start with a number word, in order.

    The same matches as WORDISH_RE.finditer(text) once _word_items has checked them, found from where a
    month or a number-word hint occurs rather than by looking at every word of the text.
    """
    lowered = text.lower()
    hints = [m.start() for m in _WORD_HINT_RE.finditer(lowered)] + [m.start() for m in _MONTH_HINT_RE.finditer(text)]
    if not hints:
        return []
    if len(lowered) != len(text):  # lower() changed the length (e.g. "İ"): positions differ, take every run
        return [m.span() for m in WORD_RUN_RE.finditer(text)]
    runs = {}
    for pos in hints:
        start = pos
        while start and (text[start - 1] == "-" or text[start - 1].isalnum() or text[start - 1] == "_"):
            start -= 1  # [\w-] is exactly str.isalnum(), "_" and "-"
        if start not in runs:
            runs[start] = WORD_RUN_RE.match(text, start).end()
    return sorted(runs.items())


def _word_items(text: str, items: list) -> None:
    """Number words (two … ninety, twenty-five) and month names, with what a translation must show."""
    for start, end in _word_runs(text):
        word = text[start:end]
        if (
            word not in MONTHS
            and word.lower().partition("-")[0] not in WORD_NUMBERS
            or not WORDISH_WORD_RE.fullmatch(word)
        ):
            continue
        if word in MONTHS:
            if (
                word == "May"
                and not re.match(r"\s+\d|,?\s+\d{4}", text[end:])
                and not re.search(r"\d\s*$", text[:start])
            ):
                continue  # "it may rain"
            items.append((word, (float(MONTHS[word]),), False, "month:" + word))
            continue
        head, _, tail = word.lower().partition("-")
        if head not in WORD_NUMBERS:
            continue
        if WORD_NUMBERS.get(tail, 10) < 10 and WORD_NUMBERS[head] >= 20:  # twenty-five
            items.append((word, (float(WORD_NUMBERS[head] + WORD_NUMBERS[tail]),), False, "word:" + word.lower()))
        elif head not in SKIP_WORDS:  # "three", and the number in "two-thirds", "four-wheel"
            items.append((word.partition("-")[0], (float(WORD_NUMBERS[head]),), False, "word:" + head))


@lru_cache(maxsize=CACHE)
def source_items(source: str) -> tuple[tuple[str, tuple[float, ...], bool, str | None], ...]:
    """(shown as, acceptable values, must keep its sign, unit) for each number in the English source."""
    text = strip_code(nfkc(source))  # code is compared verbatim by `markdown`
    has_digit = DIGIT_RE.search(text) is not None
    if has_digit:
        text = LIST_NUMBER_RE.sub(" ", text)  # "1." list markers: a translation may renumber or use bullets
    text = mask_urls(text)
    items: list[tuple[str, tuple[float, ...], bool, str | None]] = []
    _word_items(text, items)
    if not has_digit or not DIGIT_RE.search(text):
        return tuple(items)
    if "24/7" in text:
        text = EXEMPT_RE.sub(" ", text)

    def time_sub(m: re.Match) -> str:
        h, mi, sec, ampm = int(m.group(1)), int(m.group(2)), m.group(3), (m.group(4) or "").lower()
        hours = (h, h + 12) if (ampm == "p" or not ampm) and h < 12 else (h, h - 12) if h > 12 else (h,)
        items.append((m.group(0), tuple(float(x) for x in hours), False, None))
        if mi:
            items.append((m.group(0), (float(mi), 0.5) if mi == 30 else (float(mi),), False, None))
        if sec:
            items.append((m.group(0), (float(sec),), False, None))
        return " "

    if ":" in text:
        text = TIME_RE.sub(time_sub, text)

    for m in NUM_RE.finditer(text):
        if _IDENTIFIER_DASH_RE.search(text[max(0, m.start() - 2) : m.start()]):
            continue  # part of an identifier: COVID-19, PG-13
        suf = (m.group("suf") or "").lower()
        unit = unit_of(text, m.end("frac") if m.group("frac") else m.end("num"))
        raw_suf = m.group("suf") or ""
        scaled = suf in SUFFIX_SCALE and (m.group("cur") or raw_suf in ("M", "B", "bn"))  # $5k, 2.3M, 4B
        if suf and not (unit or suf in PLAIN_SUFFIXES or scaled):
            continue  # an identifier like 4K, 3D or 1080p: kept verbatim elsewhere, not a quantity
        v = _num(m.group("num"))
        alts = [v]
        if m.group("frac"):  # 1/2 → 半 or 二分之一 (the value), 08/2026 → both parts
            den = float(m.group("frac")[1:])
            items.append((m.group(0).strip(), (v / den if den else v,), False, f"frac:{v}:{den}"))
            continue
        if m.group("scale"):
            scale = m.group("scale").lower()
            if SCALE_WORDS[scale] >= 1e6 and not m.group("neg"):
                # "$2.4 billion" is 24亿, not 2.4亿: the bare 2.4 proves nothing (the magnitude is what goes wrong
                # between number systems); kept as English ("2.4 billion") it passes too.
                items.append((m.group(0).strip(), (v * SCALE_WORDS[scale],), False, f"word:{scale}"))
                continue
            alts.append(v * SCALE_WORDS[scale])
        if scaled:
            alts.append(v * SUFFIX_SCALE[suf])
        if suf == "s" and v >= 1000 and v % 10 == 0:  # the 1990s → 90年代
            alts.append(v % 100)
        ampm = (m.group("ampm") or (suf if suf in ("am", "pm", "a", "p") else "")).lower()
        if ampm.startswith("p") and v < 12:
            alts.append(v + 12)
        neg = bool(m.group("neg"))
        if neg:
            alts = [-a for a in alts]
        items.append((m.group(0).strip(), tuple(alts), neg, unit))

    return tuple(items)


@lru_cache(maxsize=CACHE)
def target_months(value: str) -> frozenset[int]:
    found = set()
    for m in CN_MONTH_RE.finditer(nfkc(value)):
        v = float(m.group(1)) if m.group(1).isdigit() else cn_value(m.group(1))
        if v:
            found.add(int(v))
    return frozenset(found)


def turn_problems(source: str, value: str) -> tuple[list[str], list[str]]:
    """(numbers missing or changed, units swapped) for one translated turn."""
    missing, units = _turn_problems(source, value)
    return list(missing), list(units)


@lru_cache(maxsize=CACHE)
def _turn_problems(source: str, value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """turn_problems, cached: questions recur across a set."""
    items = source_items(source)
    if not items:
        return (), ()
    values = target_values(value)
    lowered = nfkc(value).lower()
    missing, units = [], []
    for shown, alts, strict, unit in items:
        if unit and unit.startswith("month:"):
            name = unit[6:]
            if int(alts[0]) not in target_months(value) and not re.search(rf"\b{name[:3].lower()}", lowered):
                missing.append(shown)
            continue
        if unit and unit.startswith("frac:"):
            _, a, b = unit.split(":")
            if not _accepted(alts, values, False) and not (_r(float(a)) in values and _r(float(b)) in values):
                missing.append(shown)
            continue
        if unit and unit.startswith("word:"):
            if (
                not _accepted(alts, values, False)
                and re.search(r"(?<![a-z])" + re.escape(unit[5:]) + r"(?![a-z])", lowered) is None
            ):
                missing.append(shown)
            continue
        if not _accepted(alts, values, strict):
            missing.append(shown)
        elif unit:
            bad = unit_mismatch(nfkc(value), alts[0], unit)
            if bad:
                units.append(f"{shown} → {bad}")
    return tuple(missing), tuple(units)


@register("numbers", needs_source=True)
def check_numbers(record: Record, params: dict) -> list[Reason]:
    """Numbers, dates, times and units of the source all appear in the translation (values, not spellings)."""
    missing, swapped = [], []
    for i, turn in enumerate(record.turns):
        if turn.source is None:
            continue
        lost, units = _turn_problems(turn.source, turn.value)
        missing += [f"turn {i}: {s!r}" for s in lost]
        swapped += [f"turn {i}: {s}" for s in units]
    reasons = []
    if missing:
        reasons.append(
            Reason("numbers.missing", "source numbers with no rendering in the translation: " + ", ".join(missing))
        )
    if swapped:
        reasons.append(Reason("numbers.unit", "unit changed: " + ", ".join(swapped)))
    return reasons

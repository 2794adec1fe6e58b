"""Units of measurement: what a source number is measured in, and whether the translation kept that unit.

A translation may write a unit in English or Chinese (`250 ml` / `250毫升`), but swapping it for another
unit of the same kind (`250升`, `3分钟` for `3 hours`) changes the fact. Units are data: add a row to extend.
"""

from __future__ import annotations

import re

# kind, canonical name, English spellings (regex), target spellings (English kept or Chinese).
UNITS = [
    ("volume", "ml", r"ml|mls|milliliters?|millilitres?", ["ml", "毫升"]),
    ("volume", "l", r"l|liters?|litres?", ["l", "升", "公升"]),
    ("volume", "gal", r"gal|gallons?", ["gal", "加仑"]),
    ("length", "mm", r"mm|millimeters?|millimetres?", ["mm", "毫米"]),
    ("length", "cm", r"cm|centimeters?|centimetres?", ["cm", "厘米", "公分"]),
    ("length", "m", r"m|meters?|metres?", ["m", "米", "公尺"]),
    ("length", "km", r"km|kilometers?|kilometres?", ["km", "公里", "千米"]),
    ("length", "in", r"inch|inches", ["in", "inch", "英寸", "吋"]),
    ("length", "ft", r"ft|feet|foot", ["ft", "英尺", "呎", "尺"]),
    ("length", "mi", r"mi|miles?", ["mile", "英里"]),
    ("mass", "mg", r"mg|milligrams?", ["mg", "毫克"]),
    ("mass", "g", r"g|grams?", ["g", "克"]),
    ("mass", "kg", r"kg|kilograms?|kilos?", ["kg", "公斤", "千克"]),
    ("mass", "lb", r"lbs?|pounds?", ["lb", "磅"]),
    ("mass", "oz", r"oz|ounces?", ["oz", "盎司", "安士"]),
    ("temperature", "C", r"°\s?C|℃|degrees? celsius", ["°c", "℃", "摄氏度", "摄氏", "度"]),
    ("temperature", "F", r"°\s?F|℉|degrees? fahrenheit", ["°f", "℉", "华氏度", "华氏", "度"]),
    ("time", "s", r"secs?|seconds?", ["s", "秒"]),  # a glued "s" is a plural or a decade (1990s), not seconds
    ("time", "min", r"mins?|minutes?", ["min", "分钟", "分"]),
    ("time", "h", r"h|hrs?|hours?", ["h", "hr", "小时", "个小时", "钟头", "个钟头"]),
    ("time", "day", r"days?", ["天", "日"]),
    ("time", "week", r"weeks?", ["周", "星期", "个星期", "礼拜"]),
    ("time", "month", r"months?", ["个月", "月"]),
    ("time", "year", r"years?", ["年"]),
    ("speed", "km/h", r"km/h|kph|kmh", ["km/h", "公里/小时", "公里每小时", "千米/小时", "千米每小时"]),
    ("speed", "mph", r"mph|miles per hour", ["mph", "英里/小时", "英里每小时"]),
]
KIND = {name: kind for kind, name, _, _ in UNITS}
ALIASES = {name: aliases for _, name, _, aliases in UNITS}
# Longest English spelling first so "km/h" wins over "km" and "mph" over "m".
_ENGLISH = sorted(
    ((name, spelling) for _, name, regex, _ in UNITS for spelling in regex.split("|")),
    key=lambda x: len(x[1]),
    reverse=True,
)
UNIT_AFTER_RE = re.compile(
    r"\s?(?:" + "|".join(f"(?P<u{i}>{sp})" for i, (_, sp) in enumerate(_ENGLISH)) + r")(?![A-Za-z])", re.I
)
_TARGET_ALIASES = sorted(
    ((a, name) for name, aliases in ALIASES.items() for a in aliases), key=lambda x: len(x[0]), reverse=True
)
NUMBER_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def unit_of(text: str, pos: int) -> str | None:
    """The unit written right after a number ending at `pos` (e.g. "250 ml" → "ml"), or None."""
    m = UNIT_AFTER_RE.match(text, pos)
    if not m:
        return None
    name, spelling = _ENGLISH[int(m.lastgroup[1:])]
    # "m", "h", "l", "g", "in" alone are too ambiguous unless glued to the number ("5m", "2h").
    if spelling in ("m", "h", "l", "g", "in") and text[pos : pos + 1].isspace():
        return None
    return name


def _target_unit_at(text: str, pos: int, kind: str) -> tuple[str, str] | None:
    rest = text[pos : pos + 8].lstrip().lower()
    for alias, name in _TARGET_ALIASES:
        if KIND[name] == kind and rest.startswith(alias.lower()):
            return alias, name
    return None


def unit_mismatch(target: str, value: float, unit: str) -> str | None:
    """A unit of the same kind but a different size written after `value` in the target (e.g. "250升")."""
    kind, wrong = KIND[unit], None
    for m in NUMBER_RE.finditer(target):
        if abs(float(m.group(0).replace(",", "")) - abs(value)) > 1e-9:
            continue
        found = _target_unit_at(target, m.end(), kind)
        if found is None:
            continue
        alias, name = found
        if name == unit or alias.lower() in (a.lower() for a in ALIASES[unit]):
            return None
        wrong = f"{m.group(0)}{alias}"
    return wrong

"""Literal pre-filters: strings a regex cannot match without, so most texts skip the regex altogether.

`required_strings(pattern)` reads the pattern's parse tree (the standard library's own parser) and returns a
set of strings such that every match contains at least one of them — e.g. {"翻译", "译文"} for
"^(?:翻译|译文)\\s*[：:]" — or None when it cannot tell. `Prefilter(patterns)` turns the sets of several
patterns into two plain alternations of literals that the regex engine scans with its fast literal search:
when neither finds anything, none of the patterns can match. The result is a necessary condition only, so
a caller still runs the real regex whenever the pre-filter passes; answers never change, only their cost.

Case-insensitive patterns contribute lower-case strings that are looked up in the lower-cased text. The
few characters that re.IGNORECASE equates with an ASCII letter although str.lower() does not (ı, ſ, İ) make
the case-insensitive check pass unconditionally; other cased non-ASCII letters are never used as literals.
"""

from __future__ import annotations

import re

try:  # the standard library's regex parser (private: any surprise only disables the shortcut)
    from re import _parser as _sre
except ImportError:  # Python < 3.11
    import sre_parse as _sre  # type: ignore[no-redef]

try:
    from re._casefix import _EXTRA_CASES as _EXTRA  # characters re.IGNORECASE equates beyond lower()

    _SPECIAL = frozenset(_EXTRA) | frozenset(c for v in _EXTRA.values() for c in v)
except ImportError:  # pragma: no cover - older layout: then only ASCII may serve case-insensitively
    _SPECIAL = None

_MAX_STRINGS = 64  # alternatives kept per literal run
_UNSAFE_FOLD = ("\u0130", "\u0131", "\u017f")  # İ ı ſ: match an ASCII letter under re.I, not under lower()
Factors = frozenset  # of (string, case_insensitive) pairs


def _foldable(ch: str) -> bool:
    """Whether `ch` can stand in a lower-cased, case-insensitive literal."""
    if ch.isascii():
        return True
    return _SPECIAL is not None and ch.lower() == ch == ch.upper() and ord(ch) not in _SPECIAL


def _exact(op, av, icase: bool) -> set[str] | None:
    """The finite set of strings one parse item matches, or None (lower-cased when case-insensitive)."""
    if op is _sre.LITERAL:
        ch = chr(av)
        if icase:
            return {ch.lower()} if _foldable(ch) else None
        return {ch}
    if op is _sre.IN:
        chars: set[str] = set()
        for o, a in av:
            if o is _sre.LITERAL:
                chars.add(chr(a))
            elif o is _sre.RANGE and a[1] - a[0] < 16:
                chars.update(chr(c) for c in range(a[0], a[1] + 1))
            else:
                return None
        if icase:
            return {c.lower() for c in chars} if all(map(_foldable, chars)) else None
        return chars
    if op is _sre.SUBPATTERN:  # a group that changes case-sensitivity cannot join its neighbours' strings
        return _exact_seq(av[-1], icase) if _icase(av, icase) == icase else None
    if op is _sre.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            strings = _exact_seq(alt, icase)
            if strings is None:
                return None
            out |= strings
        return out if len(out) <= _MAX_STRINGS else None
    if op is _sre.MAX_REPEAT and av[0] == 0 and av[1] == 1:
        strings = _exact_seq(av[2], icase)
        return None if strings is None else strings | {""}
    return None


def _exact_seq(items, icase: bool) -> set[str] | None:
    out = {""}
    for op, av in items:
        strings = _exact(op, av, icase)
        if strings is None or len(out) * len(strings) > _MAX_STRINGS:
            return None
        out = {a + b for a in out for b in strings}
    return out


def _icase(av, icase: bool) -> bool:
    _, add_flags, del_flags, _ = av
    return bool(add_flags & re.I) or (icase and not del_flags & re.I)


def _required(items, icase: bool) -> Factors | None:
    """Strings one of which every match of the sequence `items` contains, or None."""
    candidates: list[Factors] = []
    run: set[str] = {""}

    def close() -> None:
        nonlocal run
        if "" not in run:
            candidates.append(frozenset((s, icase) for s in run))
        run = {""}

    for op, av in items:
        strings = _exact(op, av, icase)
        if strings is not None and len(run) * len(strings) <= _MAX_STRINGS:
            run = {a + b for a in run for b in strings}  # consecutive exact items: one contiguous string
            continue
        close()
        inner = None
        if op is _sre.SUBPATTERN:
            inner = _required(av[-1], _icase(av, icase))
        elif op is _sre.BRANCH:
            alts = [_required(alt, icase) for alt in av[1]]
            inner = None if any(a is None for a in alts) else frozenset().union(*alts)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and av[0] >= 1:
            inner = _required(av[2], icase)
        if inner is not None:
            candidates.append(inner)
    close()
    if not candidates:
        return None
    # The most selective set: the best worst string, then the fewest strings.
    return max(candidates, key=lambda f: (min(_weight(s) for s, _ in f), -len(f)))


def _weight(s: str) -> float:
    """How rare a literal is in text, roughly: letters, digits and ideographs count, punctuation little."""
    return sum(2.0 if ch.isalnum() else 0.5 for ch in s)


def required_strings(pattern: re.Pattern) -> Factors | None:
    """(string, case_insensitive) pairs one of which every match of `pattern` contains; None if unknown."""
    try:
        return _required(_sre.parse(pattern.pattern, pattern.flags), bool(pattern.flags & re.I))
    except Exception:  # noqa: BLE001 - an unexpected parse tree only costs the shortcut
        return None


class Prefilter:
    """`may_match(text)` is False only when none of the patterns can match `text`."""

    def __init__(self, patterns: list[re.Pattern]):
        factors = [required_strings(p) for p in patterns]
        self.active = bool(factors) and all(f is not None for f in factors)
        strings = set().union(*factors) if self.active else set()
        self._exact = self._alternation(s for s, icase in strings if not icase)
        self._folded = self._alternation(s for s, icase in strings if icase)

    @staticmethod
    def _alternation(strings) -> re.Pattern | None:
        strings = sorted(set(strings), key=lambda s: (-len(s), s))
        return re.compile("|".join(map(re.escape, strings))) if strings else None

    def may_match(self, text: str) -> bool:
        if not self.active:
            return True
        if self._exact is not None and self._exact.search(text):
            return True
        if self._folded is None:
            return False
        if any(ch in text for ch in _UNSAFE_FOLD):
            return True
        return self._folded.search(text.lower()) is not None

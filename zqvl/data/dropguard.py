"""The drop guard: every command that drops records says how many and why, warns past 20 %, and fails past
--max-drop (default 0.5) with a hint for the usual cause, because a step that silently keeps 1 of 16 records
(a wrong --images, a set not translated yet) is worse than one that stops.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

WARN_SHARE = 0.2
DEFAULT_MAX_DROP = 0.5

# (fragment of a reason code, what usually causes it): the first match names the likely fix.
HINTS = (
    ("image_missing", "check --images (or that DIR/images/ holds the files chat.json names)"),
    ("image.missing", "check --images (or that DIR/images/ holds the files chat.json names)"),
    ("untranslated", "is the set translated yet? run `zqvl-data translate` first"),
    ("not_chinese", "is the set translated yet? run `zqvl-data translate` first"),
    ("too_long", "raise --max-len, or split long chats before training"),
    ("path", "image paths must be relative to DIR/images/ and stay inside it"),
    ("image.tiny", "the images are below the minimum side (28 px, two ViT patches): upscale them or drop them"),
    ("image_corrupt", "the images are damaged or not images: re-download or re-convert them"),
    ("unreadable", "the images are damaged or not images: re-download or re-convert them"),
)


@dataclass
class Drops:
    """What a command dropped: `total` records seen, `dropped` of them, reason code -> records with it (a record
    may have several reasons; `dropped` defaults to one reason per record)."""

    command: str
    total: int
    reasons: Counter = field(default_factory=Counter)
    dropped: int = -1

    def __post_init__(self) -> None:
        if self.dropped < 0:
            self.dropped = sum(self.reasons.values())

    @property
    def share(self) -> float:
        return self.dropped / self.total if self.total else 0.0

    def summary(self, top: int = 3) -> str:
        common = ", ".join(f"{code} {n}" for code, n in self.reasons.most_common(top))
        more = len(self.reasons) - top
        return f"{self.command} dropped {self.dropped} of {self.total} records ({self.share:.0%}): {common}" + (
            f", and {more} more reason(s)" if more > 0 else ""
        )

    def hint(self) -> str:
        """The usual cause of the most common reason (never of a rarer one: that would point the wrong way)."""
        top = self.reasons.most_common(1)
        for fragment, text in HINTS if top else ():
            if fragment in top[0][0]:
                return text
        return ""

    def verdict(self, max_drop: float = DEFAULT_MAX_DROP) -> tuple[str | None, str]:
        """(None | "warn" | "fail", one-line message). Fails when more than `max_drop` of the records went."""
        if not self.dropped:
            return None, ""
        hint = self.hint()
        line = self.summary() + (f"; {hint}" if hint else "")
        if self.share > max_drop:
            return "fail", line + f" (more than --max-drop {max_drop:g})"
        if self.share > WARN_SHARE:
            return "warn", line
        return None, line


def max_drop_value(text: str) -> float:
    """argparse type for --max-drop: a share in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(text)
    return value

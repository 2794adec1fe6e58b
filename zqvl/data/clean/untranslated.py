"""untranslated / residue: a turn left in English, or English sentences left inside the Chinese.

Turn-level language ID is not enough (mixed text scores as Chinese), so this looks at spans: protected text
(code, URLs, quotes, OCR transcriptions, anything the source quotes) is masked first, then each remaining
stretch of Latin script is judged. Names and model numbers ("Canon EOS R6 Mark II", "Museum Square") are
mostly capitalised; left-over prose is a run of lower-case words that also appear in the source.
"""

from __future__ import annotations

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.text import (
    FUNCTION_WORDS,
    LATIN_RE,
    cjk_count,
    latin_runs,
    mask_target,
    source_words,
    strip_image_tags,
)
from zqvl.data.schema import Record


def _from_source(words: tuple[str, ...], source: str | None, min_overlap: float) -> bool:
    """With a source: most words were copied from it. Without: it reads as English prose (function words)."""
    if source is None:
        return sum(w in FUNCTION_WORDS for w in words) >= 2
    vocab = source_words(source)
    return sum(w in vocab for w in words) >= min_overlap * len(words)


@register("untranslated")
def check_untranslated(record: Record, params: dict) -> list[Reason]:
    """Whole turns in English, and runs of English prose words (beyond protected spans) inside Chinese."""
    whole, residue = [], []
    for i, turn in enumerate(record.turns):
        if not LATIN_RE.search(strip_image_tags(turn.value)):
            continue
        masked = mask_target(turn.value, turn.source)
        runs = [r for r in latin_runs(masked) if not r.is_command]
        prose = [w for r in runs for w in r.lower]
        cjk = cjk_count(masked)
        # With no Chinese at all, two prose words already make an English sentence ("The sign reads …").
        if len(prose) < (params["min_words"] if cjk else 2):
            continue
        latin_units = sum(len(w) for r in runs for w in r.words) / 3.0  # ~3 letters per Chinese character
        if cjk / (cjk + latin_units) < params["max_cjk_share"] and _from_source(
            tuple(prose), turn.source, params["min_source_overlap"]
        ):
            whole.append(f"turn {i}: {' '.join(r.text for r in runs)[:80]!r}")
            continue
        for run in runs:
            if (
                len(run.lower) >= params["min_words"]
                and run.lower_share >= params["min_lower_share"]
                and _from_source(run.lower, turn.source, params["min_source_overlap"])
            ):
                residue.append(f"turn {i}: {run.text[:80]!r}")
    reasons = []
    if whole:
        reasons.append(Reason("untranslated.turn", "left in English: " + "; ".join(whole)))
    if residue:
        reasons.append(Reason("untranslated.residue", "English prose inside the translation: " + "; ".join(residue)))
    return reasons

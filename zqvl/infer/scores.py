"""Scores of generated answers against references: exact match and chrF, written out (sacrebleu is not a dependency).

chrF (Popović 2015) as sacrebleu's CHRF defaults compute it: character n-grams of orders 1..6 with whitespace
removed, n-gram counts summed over the corpus, precision and recall averaged over the orders that occur in
both hypothesis and reference, then the F-score with beta = 2 (recall weighs twice), on a 0-100 scale.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

CHAR_ORDER = 6
BETA = 2.0
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """For exact match: NFKC, case-folded, without whitespace and punctuation (。 and . alike)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in text if not c.isspace() and not unicodedata.category(c).startswith("P"))


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Share of hypotheses equal to their reference after `normalize`."""
    if not hypotheses:
        return 0.0
    return sum(normalize(h) == normalize(r) for h, r in zip(hypotheses, references, strict=True)) / len(hypotheses)


def _ngrams(text: str, n: int) -> Counter:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def chrf_statistics(hypothesis: str, reference: str, order: int = CHAR_ORDER) -> list[int]:
    """[hyp n-grams, ref n-grams, common n-grams] for n = 1..order, flattened."""
    hyp, ref = _SPACE.sub("", hypothesis), _SPACE.sub("", reference)
    stats = []
    for n in range(1, order + 1):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        stats += [sum(h.values()), sum(r.values()), sum((h & r).values())]
    return stats


def chrf_from_statistics(stats: Sequence[int], beta: float = BETA) -> float:
    precision = recall = 0.0
    orders = 0
    for i in range(0, len(stats), 3):
        n_hyp, n_ref, n_common = stats[i : i + 3]
        if n_hyp > 0 and n_ref > 0:
            precision += n_common / n_hyp
            recall += n_common / n_ref
            orders += 1
    if orders == 0:
        return 0.0
    precision, recall = precision / orders, recall / orders
    if precision + recall == 0:
        return 0.0
    b2 = beta * beta
    return 100.0 * (1 + b2) * precision * recall / (b2 * precision + recall)


def chrf(
    hypotheses: str | Sequence[str], references: str | Sequence[str], order: int = CHAR_ORDER, beta: float = BETA
) -> float:
    """Corpus chrF (one reference per hypothesis); a pair of strings gives the sentence score."""
    if isinstance(hypotheses, str):
        hypotheses, references = [hypotheses], [references]
    total = [0] * (3 * order)
    for h, r in zip(hypotheses, references, strict=True):
        total = [a + b for a, b in zip(total, chrf_statistics(h, r, order))]
    return chrf_from_statistics(total, beta)

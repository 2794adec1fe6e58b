"""Keep-first near-duplicate removal: in input order, a record that nearly duplicates a record already kept is
dropped, and one that does not is kept and joins the indexes (only kept records are ever compared with, so
memory stays linear).

The set-level checks (length outliers, lost sentences) can reject a record only once the whole set is seen, and
a rejected record must not count as kept. Run after the scan, keep-first was a serial tail with every core
but one idle (0.4 s on 20K records). So it runs while the scan streams (StreamingKeepFirst), as if the set-level
checks rejected nothing, and notes every kept record that decided something for a later one: a hit in an
index, or the entry a copied-answer lookup found. When the scan ends, a record rejected late that decided
nothing changed nothing later: it loses its own dedupe reasons and the outcome is keep_first's. If one did
decide something, keep-first runs again from the start on fresh indexes (the signatures are held for that), so
the outcome is exactly keep_first's either way.
"""

from __future__ import annotations

from zqvl.data.clean.copies import CopiedAnswers
from zqvl.data.clean.decisions import Decision
from zqvl.data.clean.dedupe import AnswerIndex, ImageIndex
from zqvl.data.clean.registry import Reason

DEDUPE = "dedupe."  # the prefix of every reason keep-first gives


def keep_first(
    decisions: list[Decision],
    answers: AnswerIndex | None,
    images: ImageIndex | None,
    copies: CopiedAnswers | None = None,
) -> None:
    """Keep the first of each near-duplicate group among the records that are kept otherwise, in input order."""
    deduper = StreamingKeepFirst(decisions, answers, images, copies)
    for d in decisions:
        deduper.settle(d)


class StreamingKeepFirst:
    """keep_first, one decision at a time as the scan makes them, then `finish` once the set-level checks have
    added their reasons. Each decision's index entries (answer signature, images, copy signature) must be
    stored or remembered before `add` is called for it."""

    def __init__(
        self,
        decisions: list[Decision],
        answers: AnswerIndex | None,
        images: ImageIndex | None,
        copies: CopiedAnswers | None,
    ):
        self.decisions, self.answers, self.images, self.copies = decisions, answers, images, copies
        self.deciders: set[int] = set()  # kept records whose presence decided something for a later one
        # what the images and copies indexes were given, for a rerun (they forget it as they settle a record)
        self._held_images: dict[int, tuple] = {}
        self._held_copies: dict[int, tuple] = {}
        self.reran = False

    def add(self, d: Decision) -> None:
        for index, held in ((self.images, self._held_images), (self.copies, self._held_copies)):
            item = index.pending(d.index) if index is not None else None
            if item is not None:
                held[d.index] = item
        self.settle(d)

    def settle(self, d: Decision) -> None:
        """Compare a record that is kept so far with the records kept before it, then keep or forget it."""
        if d.kept:
            self._mark_duplicate(d)
        # settled either way: a kept record joins the indexes, any other is forgotten
        if d.kept:
            for index in (self.answers, self.images, self.copies):
                if index is not None:
                    index.keep(d.index)
        else:
            for index in (self.images, self.copies):  # the answer index holds every signature, compares kept rows
                if index is not None:
                    index.discard(d.index)

    def _mark_duplicate(self, d: Decision) -> None:
        names = self.decisions
        hits = self.answers.duplicates(d.index) if self.answers is not None else []
        if hits:
            i, j = hits[0]
            d.reasons.append(Reason("dedupe.answer", f"answer ~{j:.2f} similar to kept record {names[i].id!r}"))
        if self.copies is not None and not hits:
            found, copied = self.copies.lookup(d.index)
            if found is not None:
                # copied or not, its entry was compared with: without it, another kept record's would have been
                self.deciders.add(found)
            if copied:
                d.reasons.append(
                    Reason(
                        "dedupe.copied_answer",
                        f"the same answer as kept record {names[found].id!r}, whose English says something else",
                    )
                )
        img = self.images.duplicates(d.index) if self.images is not None else []
        if img:
            d.reasons.append(Reason("dedupe.image", f"image nearly identical to kept record {names[img[0]].id!r}"))
        self.deciders.update(k for k, _ in hits)
        self.deciders.update(img)

    def finish(self, rejected_late: dict[int, bool]) -> None:
        """`rejected_late`: index -> whether keep-first had kept it, for each record the set-level checks
        rejected. Leaves every decision as keep_first after the set-level checks would have."""
        if not any(was_kept and i in self.deciders for i, was_kept in rejected_late.items()):
            for i in rejected_late:  # rejected anyway: keep-first never looks at such a record
                d = self.decisions[i]
                d.reasons = [r for r in d.reasons if not r.startswith(DEDUPE)]
            return
        self.reran = True
        for d in self.decisions:
            d.reasons = [r for r in d.reasons if not r.startswith(DEDUPE)]
        if self.answers is not None:
            self.answers.forget_kept()
        if self.images is not None:
            self.images = self.images.empty_copy()
            for key, item in self._held_images.items():
                self.images.remember(key, *item)
        if self.copies is not None:
            self.copies = self.copies.empty_copy()
            for key, item in self._held_copies.items():
                self.copies.remember(key, item)
        for d in self.decisions:
            self.settle(d)

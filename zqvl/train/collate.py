"""Records -> token ids + label masks -> padded batches.

Every assistant answer (its text and its <|im_end|>) is supervised and nothing else is: labels come from the
ChatML segments of zqvl.data.template, tokenized segment by segment so each boundary is exact. A record's own
system prompt (a leading system turn) replaces --system-prompt for its samples (every piece), never supervised.
A conversation
longer than max_len (image tokens included) is split between exchanges, never inside an answer; a piece that
starts after earlier images gets those images again in front of its first question, so every answer stays
grounded. A single exchange that cannot fit is dropped with reason `too_long`.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.utils.data import get_worker_info

from zqvl.data.checks import roles, tag_count
from zqvl.data.schema import IMAGE_TAG, Record, Turn
from zqvl.data.template import segments
from zqvl.model.processor import expand_image_tokens

IGNORE = -100


class Dropped(Exception):
    """A record that cannot become a training sample; `reason` is a short code that gets counted."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason


@dataclass
class Sample:
    id: str
    input_ids: torch.Tensor  # (L,) int64, image tokens already expanded
    labels: torch.Tensor  # (L,) int64, IGNORE outside answers
    image_index: list[int]  # which of the record's images, in order of appearance in input_ids
    pixel_values: Any = None  # (len(image_index), 3, H, W) once images are preprocessed
    piece: int = 0  # index of this piece when a long record was split
    pieces: int = 1

    def __len__(self) -> int:
        return int(self.input_ids.numel())


class Tokenizer:
    """Segment text -> ids, with each <image> expanded to num_image_tokens copies of image_token_id."""

    def __init__(self, tokenizer, image_token_id: int, num_image_tokens: int):
        if tokenizer.encode(IMAGE_TAG, add_special_tokens=False) != [image_token_id]:
            raise ValueError(f"this tokenizer does not encode {IMAGE_TAG} as the one id {image_token_id}")
        self.tok = tokenizer
        self.image_token_id = image_token_id
        self.num_image_tokens = num_image_tokens

    def encode(self, text: str) -> list[int]:
        ids = self.tok.encode(text, add_special_tokens=False)
        return expand_image_tokens(ids, self.image_token_id, self.num_image_tokens)

    def record(self, record: Record, system: str | None) -> tuple[list[int], list[int]]:
        ids: list[int] = []
        labels: list[int] = []
        for seg in segments(record, system):
            seg_ids = self.encode(seg.text)
            ids += seg_ids
            labels += seg_ids if seg.supervised else [IGNORE] * len(seg_ids)
        return ids, labels


def _drop_on(problems: list, record: Record) -> None:
    """Raise Dropped with the shared check's code (zqvl.data.checks) and its detail."""
    if problems:
        raise Dropped(str(problems[0]), f"{record.label}: {problems[0].detail}")


def exchanges(record: Record) -> list[list[Turn]]:
    """[[human, gpt], [human, gpt], …] (after the system turn, if any); a trailing question without an answer is
    left out (nothing to learn)."""
    turns = record.dialogue
    _drop_on(roles(record, answer_last=False), record)  # a trailing question is fine: it is left out
    out = [[turns[i], turns[i + 1]] for i in range(0, len(turns) - 1, 2)]
    if not out:
        raise Dropped("no_answer", f"{record.label}: no assistant answer to learn from")
    return out


def _piece_record(record: Record, group: list[list[Turn]], carried: int) -> Record:
    """A record of some exchanges; `carried` earlier images are put back in front of the first question. The
    record's system turn, if any, leads every piece."""
    turns = [t for ex in group for t in ex]
    if carried:
        first = turns[0]
        turns[0] = replace(first, value=(IMAGE_TAG + "\n") * carried + first.value)
    return replace(record, turns=record.turns[: len(record.turns) - len(record.dialogue)] + turns)


def build_samples(record: Record, tok: Tokenizer, max_len: int, system: str | None) -> list[Sample]:
    """One record -> one or more samples that fit max_len, or Dropped(reason)."""
    _drop_on(tag_count(record), record)
    n_tags = record.image_tag_count()
    groups = exchanges(record)
    whole = _piece_record(record, groups, 0)
    ids, labels = tok.record(whole, system)
    if len(ids) <= max_len:
        return [_sample(record.id, ids, labels, list(range(n_tags)), 0, 1)]

    # Too long: greedily pack whole exchanges into pieces that fit.
    images_before = [0]
    for ex in groups:
        images_before.append(images_before[-1] + sum(t.value.count(IMAGE_TAG) for t in ex))
    pieces: list[tuple[list[int], list[int], list[int]]] = []
    start = 0
    while start < len(groups):
        best = None
        for end in range(start + 1, len(groups) + 1):
            carried = images_before[start]
            rec = _piece_record(record, groups[start:end], carried)
            p_ids, p_labels = tok.record(rec, system)
            if len(p_ids) > max_len:
                break
            best = (end, p_ids, p_labels, list(range(images_before[end])))  # carried ones come first
        if best is None:  # never truncate: an answer cut in half teaches the model to stop mid-sentence
            raise Dropped(
                "tokens.too_long",
                f"{record.label}: exchange {start + 1} alone needs more than "
                f"--max-len {max_len} tokens (image tokens included)",
            )
        end, p_ids, p_labels, image_index = best
        pieces.append((p_ids, p_labels, image_index))
        start = end
    return [_sample(record.id, i, l, ix, k, len(pieces)) for k, (i, l, ix) in enumerate(pieces)]


def _sample(rid: str, ids: list[int], labels: list[int], image_index: list[int], piece: int, pieces: int) -> Sample:
    return Sample(
        id=rid,
        input_ids=torch.tensor(ids, dtype=torch.long),
        labels=torch.tensor(labels, dtype=torch.long),
        image_index=image_index,
        piece=piece,
        pieces=pieces,
    )


class SampleBuilder:
    """The stream's transform (runs in DataLoader workers): record + decoded images -> list[Sample].

    Raises the stream's SkipSample (via `skip`) so drops are counted by reason.
    """

    def __init__(self, processor, max_len: int, system: str | None, skip: type[Exception] | None = None):
        self.processor = processor
        self.tok = Tokenizer(processor.tokenizer, processor.image_token_id, processor.num_image_tokens)
        self.max_len = max_len
        self.system = system
        self.skip = skip
        self._in_worker = False

    def __call__(self, record: Record, images: Sequence) -> list[Sample]:
        if not self._in_worker and get_worker_info() is not None:
            # Ctrl-C (or a scheduler's SIGTERM) reaches the whole process group: the trainer saves a
            # checkpoint and then shuts its workers down, so they must not die first
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self._in_worker = True
        try:
            samples = build_samples(record, self.tok, self.max_len, self.system)
        except Dropped as e:
            if self.skip is None:
                raise
            raise self.skip(e.reason) from None
        if images:
            pixels = self.processor.preprocess_images(list(images))
            for s in samples:
                s.pixel_values = pixels[s.image_index] if s.image_index else None
        return samples


def group_by_length(samples: list[Sample], batch_size: int, rng: random.Random) -> list[list[Sample]]:
    """Sort a window of samples by length, cut into micro-batches, shuffle the batch order.

    Neighbours in length share a batch, so padding stays small; the shuffle keeps long and short batches mixed.
    Deterministic for a given rng state (resume depends on it).
    """
    order = sorted(range(len(samples)), key=lambda i: (len(samples[i]), i), reverse=True)
    batches = [[samples[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(samples: Sequence[Sample], pad_id: int) -> dict[str, Any]:
    """Right-pad to the longest sample. Returns model inputs plus bookkeeping (ids, token counts, records split)."""
    longest = max(len(s) for s in samples)
    input_ids = torch.full((len(samples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(samples), longest), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(samples), longest), dtype=torch.long)
    for row, s in enumerate(samples):
        n = len(s)
        input_ids[row, :n] = s.input_ids
        labels[row, :n] = s.labels
        attention_mask[row, :n] = 1
    pixels = [s.pixel_values for s in samples if s.pixel_values is not None]
    tokens = int(attention_mask.sum())
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "pixel_values": torch.cat(pixels) if pixels else None,
        "ids": [s.id for s in samples],
        "tokens": tokens,
        "supervised": int((labels != IGNORE).sum()),
        "padded": input_ids.numel(),
        "attended": sum(len(s) ** 2 for s in samples),  # query-key pairs each sample really attends (FLOPs)
        "images": sum(len(s.image_index) for s in samples),
        "split": records_split(samples),
    }


def records_split(samples: Sequence[Sample]) -> int:
    """Records cut at turn boundaries, counted once each (at their first piece)."""
    return sum(1 for s in samples if s.pieces > 1 and s.piece == 0)

"""Packing (`--packing`): several samples per row, up to --max-len tokens, attention never crossing a sample.

A loader window's samples go into rows first-fit-decreasing (longest first, each into the first row with room),
the rows are shuffled with the window's seeded rng and cut into micro-batches of --batch-size rows: a function of
the window alone, so exact resume holds as it does for length grouping.

In a packed row the position ids restart at 0 for every sample (and for the padding tail) and attention_mask is
None: zqvl_packed_sdpa runs SDPA per sample (zqvl/model/attention.py), eager gets transformers' block-diagonal
causal mask built from the position ids, and flash-attention 2 runs its varlen kernels on the one flat row
collate_packed(flat=True) makes; rotary positions are each sample's own. So every sample sees exactly
what it would see alone, and its logits (and loss) are the unpacked ones. Labels stay with their sample; the first
token of a sample is never a target, so the last token of the one before it predicts nothing across the seam.
Image features follow the image tokens in row order, which is the order the pixel values are concatenated in.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from zqvl.train.collate import IGNORE, Sample, records_split


def pack_rows(samples: Sequence[Sample], max_len: int) -> list[list[Sample]]:
    """First-fit-decreasing into rows of at most max_len tokens; deterministic (ties keep input order)."""
    order = sorted(range(len(samples)), key=lambda i: (-len(samples[i]), i))
    rows: list[list[Sample]] = []
    room: list[int] = []
    for i in order:
        n = len(samples[i])
        if n > max_len:
            raise ValueError(f"sample {samples[i].id} has {n} tokens, more than the row length {max_len}")
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(samples[i])
                room[r] -= n
                break
        else:
            rows.append([samples[i]])
            room.append(max_len - n)
    return rows


def pack_window(
    samples: Sequence[Sample], max_len: int, batch_size: int, rng: random.Random
) -> list[list[list[Sample]]]:
    """A window -> micro-batches of `batch_size` packed rows, in a seeded random order."""
    rows = pack_rows(samples, max_len)
    rng.shuffle(rows)
    return [rows[k : k + batch_size] for k in range(0, len(rows), batch_size)]


def collate_packed(rows: Sequence[Sequence[Sample]], pad_id: int, flat: bool = False) -> dict[str, Any]:
    """Packed rows -> model inputs (position_ids restart per sample, no attention_mask) + the same bookkeeping as
    collate(). `attended`: query-key pairs the samples really attend (sum of squared sample lengths), for FLOPs.

    flat=True puts every row's samples into one row with no padding at all: transformers' flash-attention path
    reads sample boundaries from the position ids only in a batch of one row (with several it would attend
    across samples), and its varlen kernels need no rectangle anyway."""
    if flat:
        rows = [[s for row in rows for s in row]]
    longest = max(sum(len(s) for s in row) for row in rows)
    input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), longest), IGNORE, dtype=torch.long)
    position_ids = torch.zeros((len(rows), longest), dtype=torch.long)
    pixels, ids, tokens, attended, images = [], [], 0, 0, 0
    for r, row in enumerate(rows):
        at = 0
        for s in row:
            n = len(s)
            input_ids[r, at : at + n] = s.input_ids
            labels[r, at : at + n] = s.labels
            labels[r, at] = IGNORE  # never the target of the previous sample's last token
            position_ids[r, at : at + n] = torch.arange(n)
            at += n
            if s.pixel_values is not None:
                pixels.append(s.pixel_values)
            ids.append(s.id)
            tokens += n
            attended += n * n
            images += len(s.image_index)
        position_ids[r, at:] = torch.arange(longest - at)  # the padding tail is a block of its own
    return {
        "input_ids": input_ids,
        "attention_mask": None,
        "position_ids": position_ids,
        "labels": labels,
        "pixel_values": torch.cat(pixels) if pixels else None,
        "ids": ids,
        "tokens": tokens,
        "supervised": int((labels != IGNORE).sum()),
        "padded": input_ids.numel(),
        "attended": attended,
        "images": images,
        "split": records_split([s for row in rows for s in row]),
    }

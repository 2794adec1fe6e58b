"""Validation loss: the answer-token loss on held-out shards, with exactly the training labels.

The trainer measures it every --eval-every steps (and at the end) on the shards' val split or --eval-shards;
`zqvl-eval` uses the same functions, so a run's logged val loss and zqvl-eval's loss of its model are one number.
Every rank evaluates the same (small, capped) val set: no rank waits on another's share, which ZeRO-3's gathered
forward passes would otherwise deadlock on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress
from zqvl.train.collate import IGNORE, Dropped, SampleBuilder, collate


def batch_inputs(batch: dict, device, dtype) -> dict:
    """Model inputs of a collated batch, exactly as training moves them (pixels in the compute dtype)."""
    inputs = {k: batch[k].to(device) for k in ("input_ids", "attention_mask", "labels")}
    if batch["pixel_values"] is not None:
        inputs["pixel_values"] = batch["pixel_values"].to(device, dtype)
    return inputs


def val_split_urls(shards: Sequence[str]) -> list[str]:
    """The val tars of shard dirs that have a val split (empty when none has one)."""
    from zqvl.data.shards.reader import expand_shards
    from zqvl.train.mix import plain_patterns

    urls: list[str] = []
    for shard in plain_patterns(shards):
        try:
            urls += expand_shards(shard, split="val")
        except (ValueError, UsageError):
            continue
    return urls


def read_records(urls: Sequence[str], max_records: int | None = None) -> list[tuple]:
    """(record, images) of the tars in order, skipping damaged samples as training does."""
    from zqvl.data.shards.reader import ShardStream

    stream = ShardStream(list(urls), shuffle_buffer=0, shuffle_shards=False, rank=0, world_size=1)
    found = []
    for _, got in stream.iter_worker(0, 0, 1):
        if got is not None:
            found.append(got)
            if max_records and len(found) >= max_records:
                break
    return found


def build_batches(
    records: Sequence[tuple], processor, max_len: int, system: str | None, batch_size: int
) -> tuple[list[dict], int]:
    """Collated batches of the records as training builds them, and how many records training would drop."""
    builder = SampleBuilder(processor, max_len, system or None)
    samples, dropped = [], 0
    for record, images in records:
        try:
            samples += builder(record, images)
        except Dropped:
            dropped += 1
    pad = processor.tokenizer.pad_token_id
    return [collate(samples[k : k + batch_size], pad) for k in range(0, len(samples), batch_size)], dropped


def supervised_loss(model, batches: Sequence[dict], device, dtype, progress: Progress = NULL) -> tuple[float, int]:
    """(mean loss per supervised token, supervised tokens) over the batches; nan when nothing is supervised."""
    total, tokens = 0.0, 0
    progress.stage("loss", len(batches))
    with torch.inference_mode():
        for batch in batches:
            loss = model(**batch_inputs(batch, device, dtype), use_cache=False).loss
            predicted = int((batch["labels"][:, 1:] != IGNORE).sum())  # what the shifted loss averages over
            total += float(loss) * predicted
            tokens += predicted
            progress.advance(1)
    return (total / tokens if tokens else float("nan")), tokens


@dataclass
class Validation:
    """The trainer's val set, built once; `loss(engine)` measures it with dropout off and restores train mode."""

    batches: list[dict]
    records: int
    dropped: int

    @classmethod
    def build(
        cls, urls: Sequence[str], processor, max_len: int, system: str | None, batch_size: int, max_records: int
    ) -> Validation | None:
        if not urls:
            return None
        records = read_records(urls, max_records)
        batches, dropped = build_batches(records, processor, max_len, system, batch_size)
        return cls(batches, len(records), dropped) if batches else None

    def loss(self, engine, device, dtype) -> float:
        engine.eval()
        try:
            return supervised_loss(engine, self.batches, device, dtype)[0]
        finally:
            engine.train()

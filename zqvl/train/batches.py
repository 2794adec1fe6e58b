"""Shards -> length-grouped micro-batches, resumable at the exact next micro-batch, epoch after epoch.

The stream (zqvl.data.shards.reader) decodes, filters and tokenizes in DataLoader workers and hands over windows of
`batch_size * group_batches` records; here each window is sorted by length, cut into micro-batches and
shuffled (seeded by seed, epoch and window number). The resume point is the loader's state before the
current window + the position inside it: re-reading that one window rebuilds exactly the same batches.
Epochs repeat until the trainer stops, so every rank runs the same number of steps.
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

from zqvl.data.shards.format import MANIFEST, Manifest
from zqvl.train.collate import SampleBuilder, collate, group_by_length
from zqvl.errors import UsageError


def _flatten(items: list) -> list:
    return [s for samples in items for s in samples]


class MicroBatches:
    def __init__(self, shards: Sequence[str], builder: SampleBuilder, *, batch_size: int, group_batches: int,
                 seed: int, shuffle_buffer: int, num_workers: int, filters: Sequence[Callable], rank: int,
                 world_size: int, pad_id: int):
        self.shards = list(shards)
        self.builder = builder
        self.batch_size = batch_size
        self.window_records = batch_size * group_batches
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.num_workers = num_workers
        self.filters = list(filters)
        self.rank, self.world_size = rank, world_size
        self.pad_id = pad_id
        self.epoch = 0
        self.window_index = 0         # windows started in this epoch
        self.window: list = []
        self.pos = 0
        self.window_state = None      # loader state before the current window
        self.past_stats: Counter = Counter()   # drops/skips of finished epochs (and of runs before a resume)
        self.loader = None
        self.it = None

    # -- stream plumbing ---------------------------------------------------------------------------------------
    def _open(self, loader_state=None) -> None:
        from zqvl.data.shards.reader import ShardStream
        from zqvl.data.stream_loader import make_loader

        stream = ShardStream(self.shards, seed=self.seed, shuffle_buffer=self.shuffle_buffer, epoch=self.epoch,
                             transform=self.builder, filters=self.filters, rank=self.rank,
                             world_size=self.world_size)
        self.loader = make_loader(stream, batch_size=self.window_records, num_workers=self.num_workers,
                                  collate_fn=_flatten, epochs=self.epoch + 1)
        if loader_state is not None:
            self.loader.load_state_dict(loader_state)
        self.it = iter(self.loader)

    def _close_epoch(self) -> None:
        self.past_stats.update(self.loader.stats())
        self.epoch += 1
        self.window_index = 0

    def _fill(self) -> None:
        """Read the next window of records (crossing into the next epoch when this one ends)."""
        empty_epochs = 0
        while True:
            if self.it is None:
                self._open()
            state = self.loader.state_dict()
            try:
                samples = next(self.it)
            except StopIteration:
                self._close_epoch()
                self.it = None
                empty_epochs += 1
                if empty_epochs > 1:
                    raise UsageError(f"rank {self.rank}: the shards yield no usable sample "
                                     f"(dropped: {dict(self.past_stats) or 'none'})") from None
                continue
            if samples:
                break
        self._set_window(state, samples)

    def _set_window(self, state, samples) -> None:
        rng = random.Random(f"{self.seed}/{self.epoch}/{self.window_index}/{self.rank}")
        self.window = group_by_length(samples, self.batch_size, rng)
        self.window_state = state
        self.window_index += 1
        self.pos = 0

    # -- iteration -------------------------------------------------------------------------------------------
    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self.pos >= len(self.window):
            self._fill()
        batch = self.window[self.pos]
        self.pos += 1
        out = collate(batch, self.pad_id)
        out["split"] = sum(1 for s in batch if s.pieces > 1 and s.piece == 0)
        return out

    # -- resume ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "window_index": self.window_index, "pos": self.pos,
                "loader": self.window_state, "past_stats": dict(self.past_stats)}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = state["epoch"]
        self.past_stats = Counter(state["past_stats"])
        if state["window_index"] == 0:     # nothing read yet in this epoch
            self.window_index, self.window, self.pos, self.it = 0, [], 0, None
            return
        self._open(state["loader"])
        samples = next(self.it)
        self.window_index = state["window_index"] - 1
        self._set_window(state["loader"], samples)
        self.pos = state["pos"]

    def stats(self) -> dict[str, int]:
        """Records skipped/dropped so far, by reason, over all epochs."""
        total = Counter(self.past_stats)
        if self.it is not None:
            total.update(self.loader.stats())
        return dict(total)


def resolve_shards(patterns: Sequence[str]) -> list[str]:
    """Tar paths from shard dirs (their manifest's train split), globs or files; a clear error otherwise."""
    from zqvl.data.shards.reader import expand_shards

    try:
        return expand_shards(list(patterns))
    except (ValueError, OSError) as e:
        raise UsageError(f"--shards: {e}") from None


def count_samples(patterns: Sequence[str]) -> int:
    """Training samples per epoch, from the manifests of shard dirs (for --epochs)."""
    total = 0
    for pattern in patterns:
        if not (Path(pattern) / MANIFEST).is_file():
            raise UsageError(f"--epochs needs shard dirs with manifest.json ({pattern} is not one); "
                             "give --max-steps instead")
        total += Manifest.read(pattern).split("train").samples
    return total

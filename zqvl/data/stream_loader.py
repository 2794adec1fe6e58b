"""Batches from a ShardStream through a torch DataLoader, with a state that resumes at the exact next batch.

Each DataLoader worker batches its own slot of the stream and tags every batch with (worker, position of its
last sample, the worker's skip counts so far). The DataLoader hands out batches round-robin over the workers
that still have data, so the order is a function of the per-worker streams alone. The state keeps, per worker,
the position after its last consumed batch, and which worker delivered that batch; a restored loader starts
each worker just after its position and rotates worker ids so the round-robin continues with the next worker.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Callable, Iterator

from torch.utils.data import DataLoader, IterableDataset, get_worker_info

STATE_VERSION = 1


class _WorkerBatches(IterableDataset):
    """One epoch of tagged batches; runs inside each DataLoader worker."""

    def __init__(self, stream, epoch: int, batch_size: int, collate: Callable, drop_last: bool,
                 workers: int, rotation: int, positions: list[int], stats: list[dict]):
        self.stream, self.epoch, self.batch_size, self.collate = stream, epoch, batch_size, collate
        self.drop_last, self.workers, self.rotation = drop_last, workers, rotation
        self.positions, self.stats = positions, stats

    def __iter__(self) -> Iterator[tuple[int, int, dict, int, Any]]:
        info = get_worker_info()
        worker = ((info.id if info else 0) + self.rotation) % self.workers
        stats: Counter = Counter(self.stats[worker])
        batch, position = [], self.positions[worker]
        for position, sample in self.stream.iter_worker(self.epoch, worker, self.workers,
                                                        start=position, stats=stats,
                                                        restored=self.stats[worker]):
            if sample is None:
                continue
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield worker, position, dict(stats), len(batch), self.collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield worker, position, dict(stats), len(batch), self.collate(batch)


class ResumableLoader:
    """Iterate for batches, epoch after epoch up to `epochs` (exclusive); state_dict() / load_state_dict()
    resume exactly."""

    def __init__(self, stream, *, batch_size: int, num_workers: int, collate_fn: Callable | None = None,
                 drop_last: bool = False, epochs: int | None = None, batches_per_epoch: int | None = None,
                 **dataloader_kwargs):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.stream, self.batch_size, self.num_workers = stream, batch_size, num_workers
        self.collate_fn = collate_fn or _unchanged
        self.drop_last, self.epochs, self.batches_per_epoch = drop_last, epochs, batches_per_epoch
        self.dataloader_kwargs = dataloader_kwargs
        self.workers = max(1, num_workers)
        self.epoch = stream.epoch
        self.end_epoch = stream.epoch + 1 if epochs is None else epochs    # exclusive
        self.samples = 0                     # samples delivered in consumed batches, all epochs
        self._finished_stats: Counter = Counter()
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.batches_in_epoch = 0
        self._positions = [0] * self.workers
        self._stats: list[dict] = [{} for _ in range(self.workers)]
        self._last_worker = -1

    def __iter__(self) -> Iterator[Any]:
        while self.epoch < self.end_epoch:
            if self.batches_per_epoch is None or self.batches_in_epoch < self.batches_per_epoch:
                yield from self._epoch_batches()
            self._finished_stats.update(self._epoch_stats())
            self.epoch += 1
            self._new_epoch()

    def _epoch_batches(self) -> Iterator[Any]:
        rotation = (self._last_worker + 1) % self.workers
        dataset = _WorkerBatches(self.stream, self.epoch, self.batch_size, self.collate_fn, self.drop_last,
                                 self.workers, rotation, list(self._positions), [dict(s) for s in self._stats])
        # collate_fn=_unchanged: pass batches through untouched (torch's default would convert tuples and arrays).
        loader = DataLoader(dataset, batch_size=None, num_workers=self.num_workers, collate_fn=_unchanged,
                            **self.dataloader_kwargs)
        for worker, position, stats, count, batch in loader:
            # Update before yielding: a state_dict() taken while the caller holds this batch counts it.
            self._positions[worker], self._stats[worker], self._last_worker = position, stats, worker
            self.batches_in_epoch += 1
            self.samples += count
            yield batch
            if self.batches_per_epoch is not None and self.batches_in_epoch >= self.batches_per_epoch:
                return

    def _epoch_stats(self) -> Counter:
        total: Counter = Counter()
        for s in self._stats:
            total.update(s)
        return total

    def stats(self) -> dict[str, int]:
        """Dropped samples by reason (bad_json, bad_image, corrupt_tar_header, a filter's or SkipSample's
        reason, ...), over every consumed batch of every epoch. A filtered sample counts under its first reason."""
        return dict(self._finished_stats + self._epoch_stats())

    def _config(self) -> dict:
        s = self.stream
        return {"seed": s.seed, "num_workers": self.workers, "rank": s.rank, "world_size": s.world_size,
                "batch_size": self.batch_size, "shuffle_buffer": s.shuffle_buffer, "drop_last": self.drop_last,
                "shards": hashlib.sha256("\n".join(s.urls).encode()).hexdigest()[:16]}

    def state_dict(self) -> dict:
        return {"version": STATE_VERSION, "config": self._config(), "epoch": self.epoch,
                "batches_in_epoch": self.batches_in_epoch, "positions": list(self._positions),
                "stats": [dict(s) for s in self._stats], "last_worker": self._last_worker,
                "finished_stats": dict(self._finished_stats), "samples": self.samples}

    def load_state_dict(self, state: dict) -> None:
        """Restore before iterating; the same shards, seed, workers, rank/world size and batch size are required."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"loader state version {state.get('version')!r}, expected {STATE_VERSION}")
        mine = self._config()
        diff = [f"{k}: saved {v!r}, now {mine.get(k)!r}" for k, v in state["config"].items() if mine.get(k) != v]
        if diff:
            raise ValueError("loader state does not match this loader (" + "; ".join(diff) + ")")
        self.epoch, self.batches_in_epoch = state["epoch"], state["batches_in_epoch"]
        self._positions = list(state["positions"])
        self._stats = [dict(s) for s in state["stats"]]
        self._last_worker = state["last_worker"]
        self._finished_stats = Counter(state["finished_stats"])
        self.samples = state["samples"]


def _unchanged(batch: list) -> list:
    return batch


def make_loader(stream, *, batch_size: int, num_workers: int, collate_fn: Callable | None = None,
                drop_last: bool = False, epochs: int | None = None, batches_per_epoch: int | None = None,
                **dataloader_kwargs) -> ResumableLoader:
    """A ResumableLoader over `stream`. Batches are built in the workers: collate_fn(list of samples), by default
    the list itself. epochs: the epoch number to stop before (absolute, like range(stream.epoch, epochs));
    None = just stream.epoch; sys.maxsize = endless. A restored state continues inside the same range.
    batches_per_epoch: a cap, e.g. to give every rank the same number of steps.
    Other keyword arguments (pin_memory, prefetch_factor, timeout, ...) go to torch's DataLoader."""
    return ResumableLoader(stream, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_fn,
                           drop_last=drop_last, epochs=epochs, batches_per_epoch=batches_per_epoch,
                           **dataloader_kwargs)

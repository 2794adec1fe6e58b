"""The training loader: shards -> length-grouped micro-batches, epoch after epoch, resumable at the exact next one.

DataLoader workers each read their own slot of the ShardStream (decode, filters, the trainer's transform) and
hand over windows of `batch_size * group_batches` records, tagged with the worker, the stream position of the
window's last record and the worker's drop counts so far. Here each window is sorted by length, cut into
micro-batches and shuffled (seeded by seed, epoch, window number and rank), so neighbours in length share a
batch. Epochs repeat until the trainer stops, so every rank runs the same number of steps.

Exact resume: torch's DataLoader (in order) hands out items round-robin over the workers that still have data,
so the order is a function of the per-worker streams alone. The state is where the current window's read
began (each worker's position and counts, and which worker delivered the window before it) + the position
inside the window; a restored loader starts every worker just after its position, rotates worker ids so the
round-robin continues with the next worker, re-reads that one window and rebuilds exactly the same batches.
Anything that changes that order (a sampler, shuffle, in_order=False, other batching) is refused.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from zqvl.data.shards.format import MANIFEST, Manifest
from zqvl.errors import UsageError
from zqvl.train.collate import group_by_length
from zqvl.train.packing import pack_window

if TYPE_CHECKING:
    from zqvl.data.shards.reader import ShardStream

STATE_VERSION = 2
# DataLoader options that leave the order and the batches alone
DATALOADER_OPTIONS = ("multiprocessing_context", "persistent_workers", "pin_memory", "prefetch_factor", "timeout")


class _WorkerWindows(IterableDataset):
    """One epoch of one rank's windows; runs inside each DataLoader worker. Yields
    (worker, position of the window's last record, the worker's drop counts so far, flattened samples)."""

    def __init__(self, stream: ShardStream, epoch: int, records: int, slots: int, rotation: int, start: list[dict]):
        self.stream, self.epoch, self.records, self.slots = stream, epoch, records, slots
        self.rotation, self.start = rotation, start

    def __iter__(self) -> Iterator[tuple[int, int, dict, list]]:
        info = get_worker_info()
        worker = ((info.id if info else 0) + self.rotation) % self.slots
        begin = self.start[worker]
        dropped: Counter = Counter(begin["dropped"])
        window, count, position = [], 0, begin["position"]
        reported = position
        for position, samples in self.stream.iter_worker(
            self.epoch, worker, self.slots, start=begin["position"], stats=dropped, restored=begin["dropped"]
        ):
            if samples is None:
                continue
            window += samples  # the transform turns one record into a list of samples
            count += 1
            if count == self.records:
                yield worker, position, dict(dropped), window
                window, count, reported = [], 0, position
        if count or position != reported:
            # the last (maybe empty) window also reports drops after the last full one
            yield worker, position, dict(dropped), window


class TrainLoader:
    """Iterate for micro-batches (collate_fn of a list of samples), endlessly; state_dict() / load_state_dict()
    resume exactly. `stream`'s transform must return a list of samples (len() = length) per record.

    pack_len > 0 packs each window into rows of at most pack_len tokens (zqvl/train/packing.py) and a micro-batch
    is then `batch_size` rows, each a list of samples; 0 groups by length, a micro-batch being `batch_size` samples."""

    def __init__(
        self,
        stream: ShardStream,
        *,
        batch_size: int,
        group_batches: int,
        num_workers: int,
        collate_fn: Callable[[list], Any],
        pack_len: int = 0,
        **dataloader_options,
    ):
        refused = sorted(set(dataloader_options) - set(DATALOADER_OPTIONS))
        if refused:
            raise UsageError(
                f"DataLoader option(s) {', '.join(refused)} not allowed: exact resume needs the "
                f"loader's own order and batching (allowed: {', '.join(DATALOADER_OPTIONS)})"
            )
        for name, value, least in (
            ("batch_size", batch_size, 1),
            ("group_batches", group_batches, 1),
            ("num_workers", num_workers, 0),
        ):
            if value < least:
                raise UsageError(f"{name} must be >= {least}, got {value}")
        self.stream, self.collate_fn, self.options = stream, collate_fn, dataloader_options
        self.batch_size, self.group_batches, self.num_workers = batch_size, group_batches, num_workers
        self.pack_len = pack_len
        self.slots = max(1, num_workers)  # 0 workers read the one slot in this process
        self.epoch = stream.epoch
        self.samples = 0  # samples in the micro-batches handed out, all epochs
        self.read = 0  # samples in the windows read by this process (not resumed: the drop guard's count)
        self.dropped_before: Counter = Counter()  # drops by reason in finished epochs
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.window_index = 0  # windows started in this epoch
        self.window: list[list] = []
        self.pos = 0
        self._read = [{"position": 0, "dropped": {}} for _ in range(self.slots)]  # per worker, after its last window
        self._last_worker = -1  # the worker that delivered the last window
        self._window_start = self._read_point()
        self._it: Iterator | None = None

    def _read_point(self) -> dict:
        return {"workers": [dict(w) for w in self._read], "last_worker": self._last_worker}

    def _open(self) -> None:
        rotation = (self._last_worker + 1) % self.slots
        dataset = _WorkerWindows(
            self.stream,
            self.epoch,
            self.batch_size * self.group_batches,
            self.slots,
            rotation,
            [dict(w) for w in self._read],
        )
        # batch_size=None + _unchanged: the workers' windows pass through untouched
        self._it = iter(
            DataLoader(
                dataset,
                batch_size=None,
                num_workers=self.num_workers,
                collate_fn=_unchanged,
                worker_init_fn=_die_with_parent,
                **self.options,
            )
        )

    def _fill(self) -> None:
        """Read the next non-empty window (into the next epoch when this one ends)."""
        empty_epochs = 0
        while True:
            if self._it is None:
                self._open()
            start = self._read_point()
            try:
                worker, position, dropped, samples = next(self._it)
            except StopIteration:
                self.dropped_before.update(self._dropped_this_epoch())
                self.epoch += 1
                self._start_epoch()
                empty_epochs += 1
                if empty_epochs > 1:
                    raise UsageError(
                        f"rank {self.stream.rank}: the shards yield no usable sample "
                        f"(dropped: {dict(self.dropped_before) or 'none'})"
                    ) from None
                continue
            self._read[worker] = {"position": position, "dropped": dropped}
            self._last_worker = worker
            self.read += len(samples)
            if samples:
                break
        rng = random.Random(f"{self.stream.seed}/{self.epoch}/{self.window_index}/{self.stream.rank}")
        if self.pack_len:
            self.window = pack_window(samples, self.pack_len, self.batch_size, rng)
        else:
            self.window = group_by_length(samples, self.batch_size, rng)
        self._window_start = start
        self.window_index += 1
        self.pos = 0

    def __iter__(self) -> TrainLoader:
        return self

    def __next__(self) -> Any:
        if self.pos >= len(self.window):
            self._fill()
        batch = self.window[self.pos]
        # count before handing over: a state_dict() taken while the caller holds this batch includes it
        self.pos += 1
        self.samples += sum(len(row) for row in batch) if self.pack_len else len(batch)
        return self.collate_fn(batch)

    def close(self) -> None:
        """Shut the DataLoader workers down now (an iterator left to interpreter exit can hang it)."""
        self._it = None

    def _dropped_this_epoch(self) -> Counter:
        total: Counter = Counter()
        for w in self._read:
            total.update(w["dropped"])
        return total

    def stats(self) -> dict:
        """{"epoch": current epoch, "samples": samples handed out, "dropped": {reason: count}} over every epoch
        so far (bad_json, bad_image, corrupt_tar_header, a filter's or SkipSample's reason, ...; a filtered
        record counts under its first reason). Drops count as their window is read."""
        dropped = self.dropped_before + self._dropped_this_epoch()
        return {"epoch": self.epoch, "samples": self.samples, "dropped": dict(sorted(dropped.items()))}

    # -- resume ------------------------------------------------------------------------------------------------
    def _identity(self) -> dict:
        s = self.stream
        shards = hashlib.sha256("\n".join(s.urls).encode()).hexdigest()[:16]
        return {
            "world_size": s.world_size,
            "rank": s.rank,
            "num_workers": self.num_workers,
            "batch_size": self.batch_size,
            "group_batches": self.group_batches,
            "packing": self.pack_len,
            "seed": s.seed,
            "shuffle_buffer": s.shuffle_buffer,
            "shards": shards,
        }

    def state_dict(self) -> dict:
        return {
            "version": STATE_VERSION,
            **self._identity(),
            "epoch": self.epoch,
            "window_index": self.window_index,
            "pos": self.pos,
            "samples": self.samples,
            "window_start": self._window_start,
            "dropped_before": dict(self.dropped_before),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore before iterating; raises UsageError naming the first setting that differs from the checkpoint."""
        _check_same(state, self._identity())
        self.epoch, self.samples = state["epoch"], state["samples"]
        self.dropped_before = Counter(state["dropped_before"])
        self._start_epoch()
        if state["window_index"] == 0:  # nothing read yet in this epoch
            return
        self._read = [dict(w) for w in state["window_start"]["workers"]]
        self._last_worker = state["window_start"]["last_worker"]
        self.window_index = state["window_index"] - 1
        self._fill()  # the same window, so the same batches
        self.pos = state["pos"]


# key -> (how the checkpoint's value reads, what exact resume needs)
_SAME = {
    "world_size": ("world size {}", "the same number of processes"),
    "num_workers": ("{} loader workers", "the same --num-workers"),
    "batch_size": ("batch size {}", "the same --batch-size"),
    "group_batches": ("--group-batches {}", "the same --group-batches"),
    "packing": ("packing into rows of {} tokens (0 = off)", "the same --packing and --max-len"),
    "seed": ("--seed {}", "the same --seed"),
    "shuffle_buffer": ("--shuffle-buffer {}", "the same --shuffle-buffer"),
    "shards": ("shard list {}", "the same --shards"),
}


def _check_same(state: dict, mine: dict) -> None:
    if "mix_version" in state:
        raise UsageError(
            "the checkpoint was written with weighted --shards (DIR:WEIGHT); resume with the same --shards"
        )
    version = state.get("version")
    if version != STATE_VERSION:
        raise UsageError(
            f"checkpoint loader state is version {version}, this zqvl reads version {STATE_VERSION}: "
            "exact resume needs a checkpoint written by the same loader version"
        )
    if state["rank"] != mine["rank"]:
        raise UsageError(
            f"checkpoint loader state belongs to rank {state['rank']}, this is rank {mine['rank']}: "
            "each rank resumes from its own state"
        )
    for key, (written, needs) in _SAME.items():
        then, now = state.get(key, 0), mine[key]  # "packing" came later: absent means off
        if key == "num_workers" and max(1, then) == max(1, now):
            continue  # 0 and 1 workers read the same single slot
        if then != now:
            raise UsageError(
                f"checkpoint was written with {written.format(then)}, this run has {now}: exact resume needs {needs}"
            )


def _die_with_parent(worker_id: int) -> None:
    """A worker whose trainer was SIGKILLed must not live on: it holds the run dir's lock and open files, and
    torch's own parent check does not fire in every container (a worker outlived its killed trainer by minutes)."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    parent = os.getppid()
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the trainer died before prctl took effect
        os._exit(1)


def _unchanged(item):
    return item


def resolve_shards(patterns: Sequence[str]) -> list[str]:
    """Tar paths from shard dirs (their manifest's train split), globs or files; a clear error otherwise.
    Mixing weights (`DIR:3`) are not part of the path."""
    from zqvl.data.shards.reader import expand_shards
    from zqvl.train.mix import plain_patterns

    try:
        return expand_shards(plain_patterns(patterns))
    except (ValueError, OSError) as e:
        raise UsageError(f"--shards: {e}") from None


def count_samples(patterns: Sequence[str]) -> int:
    """Training samples per epoch, from the manifests of shard dirs (for --epochs; when mixing, one epoch is
    as many samples as all sources hold together)."""
    from zqvl.train.mix import plain_patterns

    total = 0
    for pattern in plain_patterns(patterns):
        if not (Path(pattern) / MANIFEST).is_file():
            raise UsageError(
                f"--epochs needs shard dirs with manifest.json ({pattern} is not one); give --max-steps instead"
            )
        total += Manifest.read(pattern).split("train").samples
    return total

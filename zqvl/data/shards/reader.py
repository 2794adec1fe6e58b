"""Streaming reader for training: shards -> (record, images) or the trainer's transform, in DataLoader workers.

Each epoch the shard list is shuffled (seed + epoch) and dealt round-robin to every (rank, worker) slot, so
across nodes and workers each shard is read exactly once per epoch. A slot streams its shards through a
shuffle buffer seeded by (seed, epoch, slot), then decodes: .json -> Record, filters (the same
`record -> [reasons]` functions `clean` uses), images -> PIL, then `transform` (tokenisation, preprocessing).
Damage never stops the stream: a bad tar header, a bad .json, an undecodable image, a filter reason or a
SkipSample from the transform drops the sample and is counted by reason.

Resuming is exact because a slot's sample order depends only on (shards, seed, epoch, slot): a slot told to
start after position p re-reads the tar headers (seeking over the data), replays its shuffle buffer and
decodes nothing until p. `zqvl.train.loader.TrainLoader` batches in the workers and keeps the positions.
"""

from __future__ import annotations

import glob
import io
import logging
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from PIL import Image, ImageOps
from torch.utils.data import IterableDataset, get_worker_info

from zqvl.data.imagecheck import ImageLimits
from zqvl.data.io import loads_value
from zqvl.data.schema import Record, SchemaError, parse_record
from zqvl.data.shards.format import MANIFEST, Manifest, image_members
from zqvl.data.shards.tar import RawSample, Ref, iter_samples

log = logging.getLogger(__name__)
Transform = Callable[[Record, list], Any]
Filter = Callable[[Record], list]


class SkipSample(Exception):
    """Raise from a transform to drop the sample; it is counted under `reason` in the loader's stats()."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason


class _TransformFailed(RuntimeError):
    """The transform's own failure: a bug to surface, not damage to skip."""


class TokenBudgetFilter:
    """The token-budget rule of `zqvl-data validate --max-len` as a stream filter: ["tokens.too_long"] when a record's
    ChatML rendering (`image_tokens` per <image>) exceeds max_len. A transform that tokenizes anyway can
    raise SkipSample("tokens.too_long") itself instead and save the second tokenization."""

    def __init__(self, tokenizer, max_len: int, image_tokens: int, system: str | None = None):
        from zqvl.data.validate import TokenBudget

        self.budget = TokenBudget(tokenizer, max_len, image_tokens, system)

    def __call__(self, record: Record) -> list[str]:
        from zqvl.data.validate import token_overflow

        return ["tokens.too_long"] if token_overflow(record, self.budget) else []


def expand_shards(shards: str | Sequence[str], split: str = "train") -> list[str]:
    """Tar paths from a list, a glob / brace pattern ('a-{000000..000009}.tar', several joined by '::'),
    or a shard dir written by `zqvl-data shard` (its manifest's `split` shards; UsageError when that manifest
    is unreadable or of another format version)."""
    from braceexpand import braceexpand

    patterns = [shards] if isinstance(shards, (str, os.PathLike)) else list(shards)
    urls: list[str] = []
    for pattern in patterns:
        pattern = os.fspath(pattern)
        if os.path.isdir(pattern) and os.path.isfile(os.path.join(pattern, MANIFEST)):
            part = Manifest.read(pattern).splits.get(split)
            if part is None:
                raise ValueError(f"{pattern}: the manifest has no {split!r} split")
            urls += [os.path.join(pattern, s.file) for s in part.shards]
            continue
        for one in pattern.split("::"):
            for name in braceexpand(one):
                found = sorted(glob.glob(name)) if glob.has_magic(name) else [name]
                missing = [f for f in found if not os.path.isfile(f)]
                if missing or not found:
                    raise ValueError(f"no shard file matches {missing[0] if missing else name!r}")
                urls += found
    if not urls:
        raise ValueError(f"no shards in {shards!r}")
    if len(set(urls)) != len(urls):
        raise ValueError("the shard list names a file twice: its samples would be seen twice per epoch")
    return urls


def _rank_and_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is None or world_size is None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            found = dist.get_rank(), dist.get_world_size()
        else:
            found = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        rank = found[0] if rank is None else rank
        world_size = found[1] if world_size is None else world_size
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
    return rank, world_size


def shuffled(items: Iterator, size: int, rng: random.Random) -> Iterator:
    """A shuffle buffer: keeps `size` items, emits a random one for each new item, drains shuffled."""
    if size <= 1:
        yield from items
        return
    buf: list = []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        j = rng.randrange(size)
        yield buf[j]
        buf[j] = item
    rng.shuffle(buf)
    yield from buf


class ShardStream(IterableDataset):
    """Samples from WebDataset shards written by `zqvl-data shard`; see the module docstring."""

    def __init__(
        self,
        shards: str | Sequence[str],
        *,
        seed: int = 0,
        shuffle_buffer: int = 1000,
        epoch: int = 0,
        transform: Transform | None = None,
        filters: Sequence[Filter] = (),
        rank: int | None = None,
        world_size: int | None = None,
        shuffle_shards: bool = True,
        image_mode: str | None = "RGB",
        split: str = "train",
        max_pixels: int = ImageLimits.max_pixels,
    ):
        self.urls = expand_shards(shards, split)
        self.seed, self.shuffle_buffer, self.epoch = seed, shuffle_buffer, epoch
        self.transform, self.filters = transform, tuple(filters)
        self.rank, self.world_size = _rank_and_world(rank, world_size)
        self.shuffle_shards, self.image_mode = shuffle_shards, image_mode
        self.max_pixels = max_pixels

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shards_for(self, epoch: int, worker: int, num_workers: int) -> list[str]:
        """The shards this rank's `worker` reads in `epoch` (disjoint across all ranks and workers)."""
        order = list(self.urls)
        if self.shuffle_shards:
            random.Random(f"{self.seed}:{epoch}:shards").shuffle(order)
        slots = self.world_size * num_workers
        return order[self.rank * num_workers + worker :: slots]

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for _, sample in self.iter_worker(self.epoch, worker, workers):
            if sample is not None:
                yield sample

    def iter_worker(
        self,
        epoch: int,
        worker: int,
        num_workers: int,
        *,
        start: int = 0,
        stats: Counter | None = None,
        restored: dict | None = None,
    ) -> Iterator[tuple[int, Any | None]]:
        """(position, sample or None when dropped) for one slot, from position `start` + 1 on.

        Positions 1..start are replayed without reading image data or decoding; `stats` (updated in place)
        is then set to `restored`, the counts saved with position `start`.
        """
        stats = Counter() if stats is None else stats
        slot = self.rank * num_workers + worker
        lite = [start > 0]  # read headers only while fast-forwarding

        def raw() -> Iterator[RawSample]:
            for url in self.shards_for(epoch, worker, num_workers):
                try:
                    yield from iter_samples(url, on_error, read_data=lambda: not lite[0])
                except OSError as e:
                    on_error("unreadable_shard", f"{url}: {e}")

        def on_error(code: str, message: str) -> None:
            stats[code] += 1
            log.warning("%s (%s)", message, code)

        rng = random.Random(f"{self.seed}:{epoch}:{slot}")
        position = 0
        for sample in shuffled(raw(), self.shuffle_buffer, rng):
            position += 1
            if position <= start:
                if position == start:
                    lite[0] = False
                    stats.clear()
                    stats.update(restored or {})
                continue
            yield position, self._decode(sample, stats)

    def _decode(self, sample: RawSample, stats: Counter) -> Any | None:
        """The per-sample error boundary: whatever one sample's bytes do (a RecursionError, a MemoryError
        from a hostile header, any decoder's exception), that sample is dropped and counted, never the stream
        stopped; only the transform's own failure propagates."""
        try:
            return self._decode_one(sample, stats)
        except _TransformFailed:
            raise
        except Exception as e:  # noqa: BLE001 - damage in one sample must not stop training
            return self._drop(
                stats, "bad_sample", f"sample {sample.key} in {sample.url}: {type(e).__name__}: {str(e)[:200]}"
            )

    def _decode_one(self, sample: RawSample, stats: Counter) -> Any | None:
        where = f"sample {sample.key} in {sample.url}"
        try:
            members = {k: (v.read() if isinstance(v, Ref) else v) for k, v in sample.members.items()}
        except OSError as e:  # the shard vanished while its samples sat in the buffer
            return self._drop(stats, "unreadable_shard", f"{where}: {e}")
        try:
            record = parse_record(loads_value(members["json"]))  # io's limits: depth, duplicate keys
        except (ValueError, SchemaError) as e:  # JSONDecodeError / UnicodeDecodeError are ValueErrors
            return self._drop(stats, "bad_json", f"{where}: {e}")
        for check in self.filters:
            reasons = check(record)
            if reasons:
                return self._drop(
                    stats, str(reasons[0]), f"{where}: filtered ({', '.join(reasons)})", level=logging.DEBUG
                )
        names = image_members(members)
        if len(names) != len(record.images):
            return self._drop(
                stats, "image.missing", f"{where}: {len(names)} image member(s) for {len(record.images)} image(s)"
            )
        images = []
        for name in names:
            try:
                im = Image.open(io.BytesIO(members[name]))
                w, h = im.size
                if w * h > self.max_pixels:  # checked on the header, before any decode
                    return self._drop(
                        stats, "image.bomb", f"{where}: image {name}: {w}x{h} pixels > limit {self.max_pixels:,}"
                    )
                im.load()
                ImageOps.exif_transpose(im, in_place=True)
                images.append(im.convert(self.image_mode) if self.image_mode and im.mode != self.image_mode else im)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:  # Pillow's guard
                return self._drop(stats, "image.bomb", f"{where}: image {name}: {e}")
            except Exception as e:  # noqa: BLE001 - PIL raises many types for broken data
                return self._drop(stats, "bad_image", f"{where}: image {name}: {e}")
        if self.transform is None:
            return record, images
        try:
            return self.transform(record, images)
        except SkipSample as e:
            return self._drop(stats, e.reason, f"{where}: {e}", level=logging.DEBUG)
        except Exception as e:
            raise _TransformFailed(f"transform failed on {where} (raise SkipSample to drop a sample): {e}") from e

    @staticmethod
    def _drop(stats: Counter, reason: str, message: str, level: int = logging.WARNING) -> None:
        stats[reason] += 1
        log.log(level, "%s (%s)", message, reason)
        return None

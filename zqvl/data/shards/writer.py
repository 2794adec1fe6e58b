"""`zqvl-data shard`: a canonical DIR -> WebDataset tars + manifest.json, reproducible, atomic and resumable.

Pipeline: chat.json is streamed in order; worker processes turn each record into tar members or a skip reason
(prepare.py); the main process appends samples to the open shard of their split (train, or val by a hash
of the id) and closes a shard before it would pass --max-count / --max-size. A finisher thread fsyncs and hashes
each closed shard, renames it to its final name and then checkpoints progress (.progress.json), so the main
process never waits on the disk.

Reproducible: shard contents depend only on the input and the options that are recorded in the manifest
(never on --workers or timing): keys are record positions, members are sorted, mtime/owner are fixed.
Resumable: a checkpoint records, per split, the first record not yet in a finished shard; a resumed run starts
from the smallest of those and rebuilds exactly the shards an uninterrupted run would have.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import queue
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zqvl.data.io import ImageRoot, atomic_open, chat_json, iter_json_values
from zqvl.data.shards.format import (
    MANIFEST,
    PROGRESS,
    SKIPPED,
    SKIPPED_PARTIAL,
    VAL_DIR,
    Manifest,
    ShardEntry,
    SkippedSummary,
    Split,
    shard_file,
)
from zqvl.data.shards.hf import write_card
from zqvl.data.shards.prepare import PrepareOptions, Skipped, prepare_chunk
from zqvl.data.shards.tar import ShardFile
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress

CHUNK = 16  # records per worker task


@dataclass(frozen=True)
class ShardOptions:
    """Everything that shapes the output; recorded in the manifest and checked on --resume."""

    max_count: int = 10_000
    max_size: int = 1_000_000_000
    resize: int | None = None
    jpeg_quality: int = 95
    val_fraction: float = 0.0
    image_check: str = "fast"
    image_format: str = "keep"

    def check(self) -> None:
        if self.max_count < 1:
            raise UsageError("--max-count must be >= 1")
        if self.max_size < 20 * 1024:
            raise UsageError("--max-size must be at least 20K (one tar record plus a sample)")
        if self.resize is not None and self.resize < 1:
            raise UsageError("--resize must be a positive number of pixels")
        if not 1 <= self.jpeg_quality <= 100:
            raise UsageError("--jpeg-quality must be in 1..100")
        if not 0 <= self.val_fraction < 1:
            raise UsageError("--val-fraction must be in [0, 1)")
        if self.image_check not in ("fast", "full"):
            raise UsageError("--image-check must be 'fast' or 'full'")
        if self.image_format not in ("keep", "jpg"):
            raise UsageError("--image-format must be 'keep' or 'jpg'")


@dataclass
class ShardResult:
    out_dir: Path
    manifest: Manifest
    skipped: Counter = field(default_factory=Counter)
    reencoded: int = 0
    resumed_at: int | None = None  # record index a --resume started from
    already_complete: bool = False
    seconds: float = 0.0


def parse_size(text: str) -> int:
    """'500M', '1G', '1.5GB', '64KiB', '1000000' -> bytes (K/M/G/T are powers of 1000, KiB/MiB/... of 1024)."""
    t = text.strip().upper().removesuffix("B")
    binary = t.endswith("I")
    t = t.removesuffix("I")
    scale = 1
    if t and t[-1] in "KMGT":
        scale = (1024 if binary else 1000) ** ("KMGT".index(t[-1]) + 1)
        t = t[:-1]
    try:
        return int(float(t) * scale)
    except ValueError:
        raise UsageError(f"cannot read size {text!r} (try 500M or 1G)") from None


def source_fingerprint(data_dir: str | Path) -> dict:
    """What identifies the input: chat.json's sha256 and record count, and the images/ listing (names, sizes)."""
    chat = chat_json(data_dir)
    h = hashlib.sha256()
    with open(chat, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    records = sum(1 for _ in iter_json_values(chat))
    images_dir = chat.parent / "images"
    listing, files, nbytes = hashlib.sha256(), 0, 0
    for root, dirs, names in os.walk(images_dir):
        dirs.sort()
        for name in sorted(names):
            p = os.path.join(root, name)
            try:
                size = os.stat(p).st_size
            except OSError:
                continue
            listing.update(f"{os.path.relpath(p, images_dir)}\0{size}\n".encode("utf-8", "surrogateescape"))
            files, nbytes = files + 1, nbytes + size
    fp = {
        "chat_json_sha256": h.hexdigest(),
        "records": records,
        "images": files,
        "images_bytes": nbytes,
        "images_listing_sha256": listing.hexdigest(),
    }
    fp["fingerprint"] = hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:32]
    return fp


class _Split:
    """The shards of one split (train or val) and where a resume must restart them."""

    def __init__(self, name: str, out: Path, shard_name: str, saved: dict | None = None):
        self.name, self.out, self.shard_name = name, out, shard_name
        saved = saved or {}
        self.shards: list[dict] = list(saved.get("shards", []))
        self.resume_from: int = saved.get("resume_from", 0)  # records below are in finished shards
        self.open: ShardFile | None = None
        self.open_first = self.open_last = -1

    def path(self, n: int) -> Path:
        return self.out / shard_file(self.shard_name, self.name, n)

    def checkpoint(self, next_index: int) -> dict:
        """Where this split restarts if the run stops now: its open shard's first record, or (nothing open)
        the next record, but never before records that earlier runs already put in finished shards."""
        restart = self.open_first if self.open else max(self.resume_from, next_index)
        return {"resume_from": restart, "shards": list(self.shards)}


class _Finisher(threading.Thread):
    """Finishes closed shards in order: fsync, sha256, rename to the final name, then write the checkpoint."""

    def __init__(self, out_dir: Path, skipped_fh):
        super().__init__(daemon=True, name="shard-finisher")
        self.out_dir, self.skipped_fh = out_dir, skipped_fh
        self.jobs: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    self._finish(*job)
                except BaseException as e:  # noqa: BLE001 - handed to the main thread
                    self.error = e
                    job[0].abort()
            else:
                job[0].abort()

    def _finish(self, shard: ShardFile, info: dict, checkpoint: dict) -> None:
        os.fsync(shard.fd)
        os.close(shard.fd)
        h = hashlib.sha256()
        with open(shard.tmp, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        info["sha256"] = h.hexdigest()
        os.replace(shard.tmp, shard.final)
        os.fsync(self.skipped_fh.fileno())
        _write_json(self.out_dir / PROGRESS, checkpoint)

    def close(self) -> None:
        self.jobs.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def _write_json(path: Path, obj: dict) -> None:
    with atomic_open(path) as fh:
        fh.write(json.dumps(obj, ensure_ascii=False, indent=1) + "\n")


def _prepared_in_order(values: Iterator[tuple[int, object]], opts: PrepareOptions, workers: int):
    """prepare() every record, in input order, with at most a few chunks per worker in flight."""

    def chunks():
        chunk = []
        for item in values:
            chunk.append(item)
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    if workers <= 0:
        for chunk in chunks():
            yield from prepare_chunk(chunk, opts)
        return
    import multiprocessing as mp

    pool = mp.get_context("fork").Pool(workers, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))
    try:
        window: deque = deque()
        for chunk in chunks():
            window.append(pool.apply_async(prepare_chunk, (chunk, opts)))
            if len(window) >= 4 * workers:
                yield from window.popleft().get()
        while window:
            yield from window.popleft().get()
    finally:
        pool.terminate()
        pool.join()


def _prepare_out_dir(
    out: Path, resume: bool, options: ShardOptions, fp: dict, name: str
) -> tuple[Manifest | None, dict | None]:
    """Check --out is usable; returns (the manifest of a finished run, or the checkpoint of an interrupted
    one to resume from); (None, None) = fresh start."""
    if not out.exists():
        return None, None
    if not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    finished, interrupted = (out / MANIFEST).exists(), (out / PROGRESS).exists()
    if not finished and not interrupted:
        if any(out.iterdir()):
            raise UsageError(f"{out}: not empty and holds no zqvl shards; choose another --out")
        return None, None
    if not resume:
        raise UsageError(
            f"{out}: already holds finished shards (manifest.json); choose another --out"
            if finished
            else f"{out}: already holds an interrupted run; add --resume to continue it"
        )
    if finished:
        manifest = Manifest.read(out)  # refuses another format version
        saved = {"options": manifest.options, "source": manifest.source, "name": manifest.name}
    else:
        manifest, saved = None, json.loads((out / PROGRESS).read_text(encoding="utf-8"))
    if saved.get("options") != asdict(options):
        raise UsageError(
            f"{out}: was started with other options {saved.get('options')}; "
            "resume with the same options or choose another --out"
        )
    if saved.get("source", {}).get("fingerprint") != fp["fingerprint"]:
        raise UsageError(f"{out}: was started from different input (source fingerprint changed); choose another --out")
    if saved.get("name") != name:
        raise UsageError(f"{out}: holds shards named {saved.get('name')!r}, not {name!r}; pass the same --name")
    return (manifest, None) if finished else (None, saved)


def shard_dir(
    source: str | Path,
    out: str | Path,
    options: ShardOptions = ShardOptions(),
    *,
    name: str | None = None,
    workers: int = 0,
    resume: bool = False,
    progress: Progress = NULL,
) -> ShardResult:
    """Shard canonical `source` into `out`. `progress` is updated (done, total, shards, skipped) every 64
    records and at the end."""
    started = time.perf_counter()
    options.check()
    out = Path(out)
    name = name or out.resolve().name
    if not name or any(c in name for c in "/\\\0") or name.startswith("."):
        raise UsageError(f"shard name {name!r} is not usable in a file name; pass --name")
    chat = chat_json(source)
    fp = source_fingerprint(source)
    ImageRoot(chat.parent / "images").require_for(chat)  # before any output: one line, not one per record
    finished, saved = _prepare_out_dir(out, resume, options, fp, name)
    if finished is not None:  # nothing left to do
        return ShardResult(
            out,
            finished,
            Counter(finished.skipped.by_reason),
            already_complete=True,
            seconds=time.perf_counter() - started,
        )
    out.mkdir(parents=True, exist_ok=True)
    for d in (out, out / VAL_DIR):
        for stale in d.glob(".*.tmp") if d.is_dir() else ():
            stale.unlink()  # half-written shards of a killed run
    header = {"source": {"dir": str(Path(source).resolve()), **fp}, "options": asdict(options), "name": name}
    saved = saved or {}
    splits = {s: _Split(s, out, name, saved.get("splits", {}).get(s)) for s in ("train", "val")}
    cursor = saved.get("cursor", 0)
    skipped_lines = _restore_skipped(out, saved.get("skipped_lines", 0))
    skipped_at = [row["index"] for row in skipped_lines]
    skip_counts = Counter(row["reason"] for row in skipped_lines)
    total = fp["records"]
    if not saved:
        _write_json(out / PROGRESS, {**header, "cursor": 0, "skipped_lines": 0, "splits": {}})

    skipped_fh = open(out / SKIPPED_PARTIAL, "a", encoding="utf-8")
    opts = PrepareOptions(
        str(chat.parent / "images"),
        options.resize,
        options.jpeg_quality,
        options.image_check,
        options.val_fraction,
        options.image_format,
    )
    values = ((i, v) for i, v in enumerate(iter_json_values(chat)) if i >= cursor)
    results = _prepared_in_order(values, opts, workers)  # forks workers before the finisher thread starts
    finisher = _Finisher(out, skipped_fh)
    reencoded, done = 0, cursor

    def close(split: _Split, next_index: int) -> None:
        shard = split.open
        size = shard.finish()
        info = {
            "file": str(shard.final.relative_to(out)),
            "samples": shard.count,
            "bytes": size,
            "sha256": None,
            "first_record": split.open_first,
            "last_record": split.open_last,
            "layouts": dict(sorted(shard.layouts.items())),
        }
        split.shards.append(info)
        split.open = None
        points = {s.name: s.checkpoint(next_index) for s in splits.values()}
        restart = min(p["resume_from"] for p in points.values())
        skipped_fh.flush()
        checkpoint = {
            **header,
            "cursor": restart,
            "skipped_lines": bisect.bisect_left(skipped_at, restart),
            "splits": points,
        }
        if finisher.error is not None:
            raise finisher.error
        finisher.jobs.put((shard, info, checkpoint))

    try:
        first = True
        for item in results:
            if first:
                finisher.start()
                first = False
            done = item.index + 1
            if isinstance(item, Skipped):
                skipped_fh.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
                skipped_at.append(item.index)
                skip_counts[item.reason] += 1
            else:
                split = splits["val" if item.val else "train"]
                if item.index >= split.resume_from:  # below: already in one of its finished shards
                    if split.open and split.open.size_with(item.nbytes) > options.max_size:
                        close(split, item.index)
                    if split.open is None:
                        split.open = ShardFile(split.path(len(split.shards)))
                        split.open_first = item.index
                    split.open.add(item.key, item.members)
                    split.open_last = item.index
                    reencoded += item.reencoded
                    if split.open.count >= options.max_count:
                        close(split, item.index + 1)
            if done % 64 == 0 or done == total:
                progress.update(
                    done, total, shards=sum(len(s.shards) for s in splits.values()), skipped=len(skipped_at)
                )
        if first:
            finisher.start()
        for split in splits.values():
            if split.open:
                close(split, total)
        finisher.close()
    except BaseException:
        results.close()  # stops the worker pool
        for split in splits.values():
            if split.open:
                split.open.abort()
        if finisher.is_alive():
            try:
                finisher.close()  # finished shards still get their final name and checkpoint
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
        skipped_fh.close()
        raise
    skipped_fh.close()

    manifest = _manifest(header, splits, skip_counts, total)
    os.replace(out / SKIPPED_PARTIAL, out / SKIPPED)
    write_card(out, manifest)  # before the manifest: a finished dir always has its datasets card
    _write_json(out / MANIFEST, manifest.to_json())
    (out / PROGRESS).unlink()
    return ShardResult(
        out, manifest, skip_counts, reencoded, cursor if saved else None, seconds=time.perf_counter() - started
    )


def _restore_skipped(out: Path, keep: int) -> list[dict]:
    """On resume: keep the first `keep` skip lines (those before the restart point), drop the rest."""
    partial = out / SKIPPED_PARTIAL
    rows = []
    if partial.exists():
        with open(partial, encoding="utf-8") as fh:
            for line in fh:
                if len(rows) == keep or not line.endswith("\n"):
                    break
                rows.append(json.loads(line))
    with atomic_open(partial) as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return rows


def _manifest(header: dict, splits: dict[str, _Split], skip_counts: Counter, total: int) -> Manifest:
    parts = {}
    for s in splits.values():
        if s.shards or s.name == "train":
            parts[s.name] = Split(
                sum(i["samples"] for i in s.shards),
                sum(i["bytes"] for i in s.shards),
                [ShardEntry(**i) for i in s.shards],
            )
    layouts: Counter = Counter()
    for s in splits.values():
        for info in s.shards:
            layouts.update(info["layouts"])
    return Manifest(
        header["source"],
        header["options"],
        header["name"],
        total,
        sum(p.samples for p in parts.values()),
        parts,
        dict(sorted(layouts.items())),
        SkippedSummary(sum(skip_counts.values()), SKIPPED, dict(sorted(skip_counts.items()))),
    )

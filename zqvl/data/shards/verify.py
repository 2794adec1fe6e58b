"""`zqvl-data verify shards/NAME`: re-read every shard and check it against manifest.json.

Per shard (in worker processes): present, byte size and sha256 as recorded, every tar header intact, sample
count as recorded, every sample's .json a valid record whose image members match its image list, every image
readable (header + integrity check, or a full decode with --decode). Across shards: keys unique, totals, the
skipped.jsonl line count, and no stray tars or leftovers of an interrupted run.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from zqvl.data.imagecheck import ImageLimits
from zqvl.data.io import loads_value
from zqvl.data.schema import SchemaError, parse_record
from zqvl.data.shards.format import VAL_DIR, Manifest, ShardEntry, image_members
from zqvl.data.shards.tar import iter_samples
from zqvl.progress import NULL, Progress


@dataclass
class ShardCheck:
    file: str
    split: str
    samples: int = 0
    problems: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


@dataclass
class VerifyResult:
    manifest: Manifest
    shards: list[ShardCheck]
    problems: list[str]  # every problem found, shard problems included, one line each

    @property
    def ok(self) -> bool:
        return not self.problems


def check_shard(root: str, entry: ShardEntry, split: str, decode: bool) -> ShardCheck:
    check = ShardCheck(entry.file, split)
    path = os.path.join(root, entry.file)
    bad = check.problems.append
    if not os.path.isfile(path):
        bad(f"{entry.file}: missing")
        return check
    size = os.path.getsize(path)
    if size != entry.bytes:
        bad(f"{entry.file}: {size} bytes, manifest says {entry.bytes}")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != entry.sha256:
        bad(f"{entry.file}: sha256 differs from the manifest (file changed or damaged)")

    def on_error(code: str, message: str) -> None:
        bad(f"{code}: {message}")

    for sample in iter_samples(path, on_error):
        check.samples += 1
        check.keys.append(sample.key)
        where = f"{entry.file}: sample {sample.key}"
        try:
            _check_sample(sample, where, decode, bad)
        except Exception as e:  # noqa: BLE001 - one sample's damage is that shard's problem; go on
            bad(f"{where}: cannot be checked ({type(e).__name__}: {str(e)[:200]})")
    if check.samples != entry.samples:
        bad(f"{entry.file}: {check.samples} samples, manifest says {entry.samples}")
    return check


def _check_sample(sample, where: str, decode: bool, bad, limits: ImageLimits = ImageLimits()) -> None:
    try:
        record = parse_record(loads_value(sample.members["json"]))  # io's limits: depth, duplicate keys
    except (ValueError, SchemaError) as e:
        bad(f"{where}: bad .json ({e})")
        return
    names = image_members(sample.members)
    if len(names) != len(record.images):
        bad(f"{where}: {len(names)} image member(s) for {len(record.images)} image(s) in the record")
    for name in names:
        try:
            with Image.open(io.BytesIO(sample.members[name])) as im:
                w, h = im.size
                if w * h > limits.max_pixels:
                    bad(
                        f"{where}: image {name} is {w}x{h} = {w * h:,} pixels > limit {limits.max_pixels:,} "
                        f"(image.bomb)"
                    )
                    continue
                im.load() if decode else im.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:  # Pillow's guard, on open
            bad(f"{where}: image {name} has too many pixels: {e} (image.bomb)")
        except Exception as e:  # noqa: BLE001 - PIL raises many types
            bad(f"{where}: image {name} unreadable ({e})")


def _check_star(args) -> ShardCheck:
    return check_shard(*args)


def verify_shards(
    directory: str | Path, *, decode: bool = False, workers: int = 0, progress: Progress = NULL
) -> VerifyResult:
    """UsageError when DIR holds no readable manifest.json of this format version."""
    root = Path(directory)
    manifest = Manifest.read(root)
    jobs = [(str(root), entry, split, decode) for split, part in manifest.splits.items() for entry in part.shards]

    checks: list[ShardCheck] = []
    progress.stage("shards", len(jobs))
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(min(workers, len(jobs))) as pool:
            for c in pool.imap(_check_star, jobs):
                checks.append(c)
                progress.advance()
    else:
        for job in jobs:
            checks.append(check_shard(*job))
            progress.advance()

    problems = [p for c in checks for p in c.problems]
    seen: dict[str, str] = {}
    for c in checks:
        for key in c.keys:
            if key in seen:
                problems.append(f"key {key} appears in {seen[key]} and {c.file}")
            seen.setdefault(key, c.file)
        c.keys = []
    for split, part in manifest.splits.items():
        found = sum(c.samples for c in checks if c.split == split)
        if found != part.samples:
            problems.append(f"split {split}: {found} samples read, manifest says {part.samples}")
    listed = {c.file for c in checks}
    for tar in sorted(root.glob("*.tar")) + sorted(root.glob(f"{VAL_DIR}/*.tar")):
        rel = str(tar.relative_to(root))
        if rel not in listed:
            problems.append(f"{rel}: a tar not listed in the manifest")
    leftovers = [p.name for d in (root, root / VAL_DIR) if d.is_dir() for p in d.glob(".*.tmp")]
    if leftovers:
        problems.append(f"temporary files of an interrupted run are present: {', '.join(leftovers[:3])}")
    skipped = manifest.skipped
    spath = root / skipped.file
    lines = sum(1 for _ in open(spath, encoding="utf-8")) if spath.is_file() else None
    if lines != skipped.count:
        problems.append(
            f"{skipped.file}: {lines if lines is not None else 'missing'} lines, "
            f"manifest says {skipped.count} skipped records"
        )
    return VerifyResult(manifest, checks, problems)

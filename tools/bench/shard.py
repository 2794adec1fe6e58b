"""Benchmark `zqvl-data shard` and the streaming reader against plain webdataset on the same bytes.

    python tools/bench/shard.py [--images 5000 --workers 2 --repeat 2 --data DIR]

Data: N real JPEGs of ~100 KB (random-noise pixels, so they do not compress away) + a chat.json, generated
once into --data (default /tmp/zqvl-bench-shard) and reused. Every variant runs --repeat times, interleaved,
after a warm-up read of all images and an os.sync(); the best time of each counts. zqvl fsyncs every shard
before renaming it (durable across a power cut); ShardWriter does not, so its writes may still be in the
page cache when its clock stops.

- shard: `shard_dir` (workers, image checks, sha256, manifest, atomic renames) vs a loop that reads each image
  and its record and writes them with `webdataset.ShardWriter` (same shard bounds). Goal: ratio >= 0.8.
- reader: `ShardStream(...)` vs `webdataset.WebDataset(...).shuffle().decode("pil")` in a torch
  DataLoader, both with --workers workers, batch 32, shuffle buffer 1000, decoding every image to RGB PIL and
  every .json, over the same shards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import webdataset as wds
from PIL import Image
from torch.utils.data import DataLoader

from zqvl.data.shards.reader import ShardStream
from zqvl.data.shards.writer import ShardOptions, shard_dir

MAX_COUNT, MAX_SIZE = 500, 10**9


def make_set(root: Path, n: int) -> None:
    rng = random.Random(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        w, h = 384 + rng.randrange(-16, 17), 288 + rng.randrange(-12, 13)
        im = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
        im.save(root / "images" / f"{i:06d}.jpg", "JPEG", quality=90)
        records.append(
            {
                "id": f"bench_{i:06d}",
                "image": f"{i:06d}.jpg",
                "conversations": [
                    {
                        "from": "human",
                        "value": "<image>\n这张图片展示了什么？",
                        "source": "<image>\nWhat does this show?",
                    },
                    {"from": "gpt", "value": "一张充满彩色噪点的图片。", "source": "A picture full of coloured noise."},
                ],
            }
        )
    tmp = root / "chat.json.tmp"
    tmp.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(root / "chat.json")


def warm(root: Path) -> int:
    total = 0
    for p in (root / "images").iterdir():
        total += len(p.read_bytes())
    return total


def baseline_shard(root: Path, out: Path) -> int:
    out.mkdir(parents=True)
    records = json.loads((root / "chat.json").read_text(encoding="utf-8"))
    with wds.ShardWriter(str(out / "base-%06d.tar"), maxcount=MAX_COUNT, maxsize=MAX_SIZE, verbose=0) as sink:
        for i, rec in enumerate(records):
            data = (root / "images" / rec["image"]).read_bytes()
            sink.write(
                {
                    "__key__": f"{i:09d}",
                    "jpg": data,
                    "json": json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode(),
                }
            )
    return len(records)


def ours_shard(root: Path, out: Path, workers: int) -> int:
    result = shard_dir(root, out, ShardOptions(max_count=MAX_COUNT, max_size=MAX_SIZE), workers=workers)
    return result.manifest.samples


def baseline_reader(urls: list[str], workers: int) -> int:
    ds = (
        wds.WebDataset(urls, shardshuffle=False, empty_check=False)
        .shuffle(1000)
        .decode("pil")
        .to_tuple("jpg", "json")
        .batched(32, collation_fn=list)
    )
    return sum(len(b) for b in DataLoader(ds, batch_size=None, num_workers=workers))


def ours_reader(urls: list[str], workers: int) -> int:
    stream = ShardStream(urls, shuffle_buffer=1000, rank=0, world_size=1)
    return sum(len(b) for b in DataLoader(stream, batch_size=32, collate_fn=list, num_workers=workers))


def timed(fn, *args) -> tuple[float, int]:
    os.sync()  # no variant pays for writing back the previous one's dirty pages
    t = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "zqvl-bench-shard"))
    args = ap.parse_args()

    root = Path(args.data) / f"n{args.images}"
    if not (root / "chat.json").exists():
        print(f"generating {args.images} noise JPEGs in {root} ...", flush=True)
        make_set(root, args.images)
    nbytes = warm(root)
    print(
        f"{args.images} images, {nbytes / args.images / 1000:.0f} KB each on average; "
        f"{args.workers} workers, best of {args.repeat}",
        flush=True,
    )

    work = Path(tempfile.mkdtemp(prefix="zqvl-bench-out-", dir=args.data))
    try:
        best: dict[str, float] = {}
        counts: dict[str, int] = {}
        for r in range(args.repeat):
            for name, fn, fargs in [
                ("shard: webdataset.ShardWriter", baseline_shard, (root, work / f"b{r}")),
                ("shard: zqvl shard_dir", ours_shard, (root, work / f"z{r}", args.workers)),
            ]:
                seconds, n = timed(fn, *fargs)
                best[name] = min(best.get(name, float("inf")), seconds)
                counts[name] = n
        urls = sorted(str(p) for p in (work / "z0").glob("*.tar"))
        for _ in range(args.repeat):
            for name, fn in [
                ("reader: webdataset.WebDataset", baseline_reader),
                ("reader: zqvl ShardStream", ours_reader),
            ]:
                seconds, n = timed(fn, urls, args.workers)
                best[name] = min(best.get(name, float("inf")), seconds)
                counts[name] = n
        print(f"\n{'variant':34} {'samples':>8} {'best s':>8} {'samples/s':>10}")
        for name, seconds in best.items():
            print(f"{name:34} {counts[name]:8d} {seconds:8.2f} {counts[name] / seconds:10.0f}")
        rate = {k: counts[k] / v for k, v in best.items()}
        print(
            f"\nshard  ratio zqvl / webdataset.ShardWriter: "
            f"{rate['shard: zqvl shard_dir'] / rate['shard: webdataset.ShardWriter']:.2f} (goal >= 0.8)"
        )
        print(
            f"reader ratio zqvl / webdataset.WebDataset: "
            f"{rate['reader: zqvl ShardStream'] / rate['reader: webdataset.WebDataset']:.2f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

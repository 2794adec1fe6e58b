"""Benchmark `zqvl-data validate`: records/s on a generated 50K-record set with 5K real small JPEGs.

    python tools/bench/validate.py [--records 50000 --images 5000]

Prints records/s for 1 and 2 workers, each as a ratio to a baseline measured in the same process (plain
`json.load` of chat.json + PIL open/verify/load of every image, single process), and the peak RSS of a
separate `zqvl-data validate` process on the same set.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from PIL import Image

from zqvl.data.validate import validate_dir


def make_set(root: Path, n_records: int, n_images: int) -> None:
    rng = random.Random(0)
    (root / "images").mkdir(parents=True)
    for i in range(n_images):
        img = Image.effect_noise((96, 72), 40).convert("RGB")
        img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (0, 0, 20, 20))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        (root / "images" / f"{i:06d}.jpg").write_bytes(buf.getvalue())
    questions = ["这张图片展示了什么？", "简要描述这张图片。", "图中有几个人？", "图片里的文字是什么？"]
    with open(root / "chat.json", "w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i in range(n_records):
            rec = {
                "id": f"r{i:07d}",
                "image": f"{i % n_images:06d}.jpg",
                "conversations": [
                    {"from": "human", "value": "<image>\n" + rng.choice(questions)},
                    {
                        "from": "gpt",
                        "value": "图片中有一个人站在路边，背后是一家写着“OPEN”的咖啡店。" * rng.randint(1, 3),
                    },
                ],
            }
            fh.write(("" if i == 0 else ",\n") + json.dumps(rec, ensure_ascii=False))
        fh.write("\n]\n")


def baseline(root: Path) -> float:
    t = time.perf_counter()
    records = json.load(open(root / "chat.json", encoding="utf-8"))
    for p in sorted((root / "images").iterdir()):
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            im.load()
    assert records
    return time.perf_counter() - t


def peak_rss_of_cli(root: Path, workers: int) -> float:
    """Peak RSS (MiB) of a validate process and its workers, sampled every 20 ms."""
    proc = psutil.Popen(
        [sys.executable, "-m", "zqvl.cli.data", "validate", str(root), "--workers", str(workers), "--show", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    while proc.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.02)
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--images", type=int, default=5_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "set"
        make_set(root, args.records, args.images)
        base = baseline(root)
        print(
            f"set: {args.records} records, {args.images} JPEGs; baseline (json.load + PIL verify+load, 1 proc): "
            f"{args.records / base:,.0f} records/s"
        )
        for workers in (1, 2):
            t = time.perf_counter()
            result = validate_dir(root, workers=workers)
            dt = time.perf_counter() - t
            assert result.records == args.records and not result.issues, result.counts
            print(f"validate workers={workers}: {args.records / dt:,.0f} records/s  ratio to baseline {base / dt:.2f}")
        print(f"peak RSS of `zqvl-data validate` (2 workers, incl. children): {peak_rss_of_cli(root, 2):,.0f} MiB")


if __name__ == "__main__":
    main()

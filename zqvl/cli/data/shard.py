"""zqvl-data shard DIR --out shards/NAME [--max-count N --max-size S --resize PX --val-fraction F --resume]"""

from __future__ import annotations

import os
from collections import Counter

from zqvl.cli.drops import add_max_drop_argument, guard
from zqvl.data.dropguard import Drops
from zqvl.data.shards.hf import CARD
from zqvl.data.shards.writer import ShardOptions, parse_size, shard_dir
from zqvl.errors import UsageError
from zqvl.progress import open_progress
from zqvl.ui import error, out, table, warn


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def add_arguments(p) -> None:
    d = ShardOptions()
    p.add_argument("dir", help="canonical data dir (chat.json + images/)")
    p.add_argument("--out", required=True, help="output dir, e.g. shards/NAME (tars are NAME-000000.tar, ...)")
    p.add_argument("--name", help="shard file prefix (default: the --out dir's name)")
    add_max_drop_argument(p)
    p.add_argument("--max-count", type=int, default=d.max_count, help=f"samples per shard (default {d.max_count})")
    p.add_argument("--max-size", default="1G", help="bytes per shard, strict (default 1G; K/M/G or KiB/MiB/GiB)")
    p.add_argument(
        "--resize",
        type=int,
        metavar="PX",
        help="scale images down so the longest side is at most PX (aspect kept; never enlarged)",
    )
    p.add_argument("--jpeg-quality", type=int, default=d.jpeg_quality, help="quality of re-encoded JPEGs")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="fraction of records (chosen by a hash of the id) written to val/NAME-val-*.tar",
    )
    p.add_argument(
        "--image-check",
        choices=("fast", "full"),
        default="fast",
        help="fast: headers, PNG CRCs, JPEG end marker; full: decode every image",
    )
    p.add_argument(
        "--image-format",
        choices=("keep", "jpg"),
        default="keep",
        help="keep: JPEG/PNG byte for byte, other formats -> PNG; jpg: every image as JPEG",
    )
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (0 = in-process)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")


def run(args) -> int:
    if args.workers < 0:
        raise UsageError("--workers must be >= 0")
    options = ShardOptions(
        args.max_count,
        parse_size(args.max_size),
        args.resize,
        args.jpeg_quality,
        args.val_fraction,
        args.image_check,
        args.image_format,
    )
    with open_progress("shard", None, "shards", "skipped") as progress:
        try:
            result = shard_dir(
                args.dir, args.out, options, name=args.name, workers=args.workers, resume=args.resume, progress=progress
            )
        except KeyboardInterrupt:
            error("interrupted; finished shards are kept: rerun with --resume to continue")
            return 130
    m = result.manifest
    if result.already_complete:
        out.print(f"{args.out}: already complete ({m.samples} samples); nothing to do", soft_wrap=True, markup=False)
        return 0
    rows = [[split, len(part.shards), part.samples, _human(part.bytes)] for split, part in m.splits.items()]
    title = f"{args.out}: {m.records} records in {result.seconds:.1f} s" + (
        f", resumed at record {result.resumed_at}" if result.resumed_at is not None else ""
    )
    out.print(table(title, ["split", "shards", "samples", "size"], rows))
    if result.reencoded:
        out.print(f"{result.reencoded} image(s) re-encoded (--resize, --image-format, or not JPEG/PNG)")
    if result.skipped:
        out.print(
            table(
                f"skipped {sum(result.skipped.values())} record(s), listed in skipped.jsonl",
                ["reason", "records"],
                [[r, n] for r, n in result.skipped.most_common()],
            )
        )
    if not m.samples:
        warn("no sample was written: every record was skipped (see skipped.jsonl)")
    else:
        out.print(f"datasets: load_dataset({str(args.out)!r}) reads {CARD} (every record, every image)", markup=False)
    return guard(Drops("shard", m.records, Counter(m.skipped.by_reason)), args.max_drop)

"""zqvl-data verify shards/NAME [--decode] [--workers W]"""

from __future__ import annotations

import os

from rich.markup import escape

from zqvl.data.shards.verify import verify_shards
from zqvl.progress import open_progress
from zqvl.ui import out, table


def add_arguments(p) -> None:
    p.add_argument("dir", help="a shard dir written by zqvl-data shard (holds manifest.json)")
    p.add_argument("--decode", action="store_true", help="fully decode every image (slower)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="shards checked in parallel")
    p.add_argument("--show", type=int, default=20, help="problems to print (default 20)")


def run(args) -> int:
    with open_progress("verify") as progress:
        result = verify_shards(args.dir, decode=args.decode, workers=args.workers, progress=progress)
    rows = []
    for split, part in result.manifest.splits.items():
        checks = [c for c in result.shards if c.split == split]
        rows.append(
            [split, len(checks), sum(c.samples for c in checks), part.samples, sum(1 for c in checks if c.problems)]
        )
    out.print(
        table(
            f"zqvl-data verify {args.dir}",
            ["split", "shards", "samples read", "in manifest", "shards with problems"],
            rows,
        )
    )
    for line in result.problems[: args.show]:
        out.print(f"[red]problem[/] {escape(line)}", soft_wrap=True)
    if len(result.problems) > args.show:
        out.print(f"… {len(result.problems) - args.show} more")
    if result.ok:
        out.print(f"[green]ok[/]: every shard matches the manifest ({result.manifest.samples} samples)")
        return 0
    return 1

"""zqvl-data convert --format {llava,linksoul,sharegpt-4o,textocr-gpt4o} IN --out DIR"""

from __future__ import annotations

from collections import Counter

from zqvl.cli.drops import add_max_drop_argument, guard
from zqvl.data.convert import READERS, convert
from zqvl.data.dropguard import Drops
from zqvl.progress import open_progress
from zqvl.ui import out, table


def add_arguments(p) -> None:
    p.add_argument("input", help="raw set: a chat.json / .jsonl file, or a dir holding one")
    p.add_argument("--format", required=True, choices=sorted(READERS))
    p.add_argument("--out", required=True, help="canonical DIR to create (chat.json + images/)")
    p.add_argument("--images", help="dir the raw image paths are relative to (default: IN/images or IN's dir)")
    p.add_argument("--copy", action="store_true", help="copy images instead of hard-linking them")
    p.add_argument(
        "--force",
        "--overwrite",
        dest="overwrite",
        action="store_true",
        help="replace an existing --out (the new one is swapped in only once complete)",
    )
    add_max_drop_argument(p)


def run(args) -> int:
    with open_progress(f"convert {args.format}") as progress:
        stats = convert(
            args.format,
            args.input,
            args.out,
            image_root=args.images,
            copy=args.copy,
            overwrite=args.overwrite,
            progress=progress,
        )
    rows = [["records read", stats.read], ["records written", stats.written], ["images placed", stats.images]]
    rows += [[f"skipped: {code}", n] for code, n in sorted(stats.skipped.items())]
    out.print(table(f"zqvl-data convert -> {args.out}", ["", "count"], rows))
    if stats.skipped:
        out.print(f"skipped records are listed in {args.out}/skipped.jsonl", markup=False)
    return guard(
        Drops("convert", stats.read, Counter(stats.skipped), dropped=stats.read - stats.written), args.max_drop
    )

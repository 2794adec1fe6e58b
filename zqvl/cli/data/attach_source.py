"""zqvl-data attach-source DIR --english EN --out DIR2"""

from __future__ import annotations

from rich.markup import escape

from zqvl.data.attach_source import attach_source
from zqvl.errors import EXIT_FINDINGS, EXIT_OK
from zqvl.progress import open_progress
from zqvl.ui import err, out, table


def add_arguments(p) -> None:
    p.add_argument("dir", help="a translated canonical DIR (chat.json, images/) whose turns have no `source`")
    p.add_argument("--english", required=True, help="the English originals: a canonical DIR or its chat.json")
    p.add_argument("--out", required=True, help="new DIR2: chat.json with `source` per turn, mismatches.jsonl")
    p.add_argument("--force", action="store_true", help="write into an --out that holds something else")


def run(args) -> int:
    with open_progress("attach-source") as progress:
        stats = attach_source(args.dir, args.english, args.out, progress, force=args.force)
    rows = [
        ["records", stats.records],
        ["source on every turn", stats.attached],
        ["source on the rounds the translation kept", stats.partial],
        ["turns given a source", stats.turns],
    ]
    rows += [[f"listed, no source: {reason}", n] for reason, n in stats.listed.most_common()]
    out.print(table(f"zqvl-data attach-source -> {args.out}", ["", "records"], rows))
    if stats.listed:
        listed = sum(stats.listed.values())
        err.print(
            f"{listed} of {stats.records} record(s) could not be lined up with their English and kept no source: "
            f"{escape(str(args.out))}/mismatches.jsonl lists them",
            soft_wrap=True,
        )
        return EXIT_FINDINGS
    return EXIT_OK

"""zqvl-data clean DIR --out DIR2 [--config F] | zqvl-data clean DIR --explain ID"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from zqvl.cli.drops import add_max_drop_argument, guard
from zqvl.data.checks import meaning
from zqvl.data.clean.config import load_config
from zqvl.data.dropguard import Drops
from zqvl.errors import UsageError
from zqvl.progress import open_progress
from zqvl.ui import out, table


def add_arguments(p) -> None:
    p.add_argument("dir", help="canonical data dir (chat.json + images/), usually translated (turns keep `source`)")
    p.add_argument("--out", help="output dir: chat.json (kept), rejected.jsonl, report.html, images/")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it holds something other than clean's output of this DIR",
    )
    add_max_drop_argument(p)
    p.add_argument("--config", help="YAML overriding the shipped defaults (zqvl/data/clean/default.yaml)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes for the per-record checks (default: all cores); the output is the same for every N",
    )
    p.add_argument(
        "--explain", metavar="ID", help="show why record ID is kept or dropped, check by check; writes nothing"
    )


def run(args) -> int:
    from zqvl.data.clean.examine import default_workers
    from zqvl.data.clean.runner import clean, scan

    config = load_config(args.config)
    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        raise UsageError(f"--workers {workers}: need at least 1")
    if args.explain is not None:
        from zqvl.data.clean.explain import explain

        with open_progress("clean") as progress:
            result = scan(args.dir, config, progress, explain_id=args.explain)
        kept, rows = explain(result, args.explain)
        out.print(
            table(
                f"{args.explain}: {'KEPT' if kept else 'REJECTED'}",
                ["check", "verdict", "detail"],
                [list(r) for r in rows],
            )
        )
        return 0
    if not args.out:
        raise UsageError("--out DIR is required (or --explain ID to inspect one record)")
    with open_progress("clean") as progress:
        result = clean(args.dir, args.out, config, progress, force=args.force, workers=workers)
    counts = result.counts
    rows = [[code, n, meaning(code)] for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    total, kept = len(result.decisions), result.n_kept
    if rows:
        out.print(
            table(
                f"zqvl-data clean {args.dir}: {total} records, {kept} kept, {total - kept} rejected",
                ["reason", "records", "meaning"],
                rows,
            )
        )
    else:
        out.print(f"[green]nothing rejected[/]: {total} records kept")
    dest = Path(args.out)
    out.print(
        f"kept → {dest / 'chat.json'}; rejected → {dest / 'rejected.jsonl'}; report → {dest / 'report.html'}",
        soft_wrap=True,
        markup=False,
    )
    reasons = Counter(code for d in result.decisions if not d.kept for code in dict.fromkeys(d.reasons))
    return guard(Drops("clean", total, reasons, dropped=total - kept), args.max_drop)

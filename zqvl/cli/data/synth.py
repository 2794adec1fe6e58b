"""zqvl-data synth --out DIR --records N --seed S [--defects RATE] [--size PX]"""

from __future__ import annotations

from zqvl.data.synth import synthesize
from zqvl.progress import open_progress
from zqvl.ui import out, table


def add_arguments(p) -> None:
    p.add_argument("--out", required=True, help="canonical DIR to create (chat.json, images/, labels.json)")
    p.add_argument("--records", type=int, required=True, help="number of records")
    p.add_argument("--seed", type=int, default=0, help="same seed and arguments: byte-identical output")
    p.add_argument(
        "--defects",
        type=float,
        default=0.0,
        help="share of records given one translation defect (listed in DIR/labels.json)",
    )
    p.add_argument("--size", type=int, default=96, help="image side in pixels (default 96)")


def run(args) -> int:
    with open_progress("synth") as progress:
        stats = synthesize(args.out, args.records, args.seed, args.defects, args.size, progress)
    rows = [[f"style: {k}", n] for k, n in sorted(stats.styles.items())]
    rows += [[f"defect: {k}", n] for k, n in sorted(stats.defects.items())]
    out.print(table(f"zqvl-data synth -> {args.out}: {stats.records} records", ["", "records"], rows))
    return 0

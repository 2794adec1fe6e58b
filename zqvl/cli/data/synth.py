"""zqvl-data synth --out DIR --records N --seed S [--defects RATE] [--size PX] [--world caption|rich]"""

from __future__ import annotations

from zqvl.data.synth import DEFAULT_SIZE, WORLDS, synthesize
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
    p.add_argument(
        "--size",
        type=int,
        help="image side in pixels (default: " + ", ".join(f"{w} {px}" for w, px in DEFAULT_SIZE.items()) + ")",
    )
    p.add_argument(
        "--world",
        choices=WORLDS,
        default="caption",
        help="caption (default): one object, answer = its colour and shape, learnable in minutes; "
        "rich: 1-3 objects, positions, signs, captions, Q&A, descriptions and OCR",
    )


def run(args) -> int:
    with open_progress("synth") as progress:
        stats = synthesize(args.out, args.records, args.seed, args.defects, args.size, progress, args.world)
    rows = [[f"style: {k}", n] for k, n in sorted(stats.styles.items())]
    rows += [[f"defect: {k}", n] for k, n in sorted(stats.defects.items())]
    out.print(table(f"zqvl-data synth -> {args.out}: {stats.records} records", ["", "records"], rows))
    return 0

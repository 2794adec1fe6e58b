"""zqvl-data validate DIR [--tokenizer T --max-len N --image-tokens K] [--report F] [--workers W]"""

from __future__ import annotations

import os

from rich.markup import escape

from zqvl.data.checks import CODES, ERROR
from zqvl.data.imagecheck import ImageLimits
from zqvl.data.io import JsonlWriter
from zqvl.data.validate import TokenBudget, validate_dir
from zqvl.errors import UsageError
from zqvl.progress import open_progress
from zqvl.ui import out, table


def add_arguments(p) -> None:
    p.add_argument("dir", help="canonical data dir (chat.json + images/)")
    p.add_argument("--report", help="write every finding as JSONL {id, level, code, message}")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="image-check processes")
    p.add_argument("--max-len", type=int, help="flag records whose ChatML tokenization exceeds N tokens")
    p.add_argument("--tokenizer", help="tokenizer dir for --max-len (default: the real Qwen tokenizer)")
    p.add_argument("--image-tokens", type=int, default=256, help="tokens each <image> expands to (default 256)")
    p.add_argument("--system", help="system prompt used in training (default: zqvl's)")
    p.add_argument("--max-pixels", type=int, default=ImageLimits.max_pixels)
    p.add_argument("--min-side", type=int, default=ImageLimits.min_side)
    p.add_argument("--no-decode", action="store_true", help="header + verify only (faster, misses truncated JPEGs)")
    p.add_argument("--show", type=int, default=10, help="findings to print (default 10; 0 = none)")


def run(args) -> int:
    if args.workers < 1:
        raise UsageError("--workers must be >= 1")
    budget = None
    if args.max_len:
        from zqvl.model.tokenizer import load_tokenizer

        budget = TokenBudget(load_tokenizer(args.tokenizer), args.max_len, args.image_tokens, args.system)
    elif args.tokenizer:
        raise UsageError("--tokenizer needs --max-len")
    limits = ImageLimits(args.max_pixels, args.min_side, not args.no_decode)

    with open_progress("validate") as progress:
        result = validate_dir(args.dir, workers=args.workers, limits=limits, budget=budget, progress=progress)

    if args.report:
        with JsonlWriter(args.report) as w:
            for row in result.to_jsonl_rows():
                w.write(row)
    counts = result.counts
    rows = [[code, CODES[code].level, counts[code], CODES[code].meaning] for code in CODES if counts[code]]
    out.print(
        table(
            f"zqvl-data validate {args.dir}: {result.records} records, {result.images} images",
            ["code", "level", "count", "meaning"],
            rows,
        )
        if rows
        else f"[green]clean[/]: {result.records} records, {result.images} images, no findings"
    )
    for issue in result.issues[: args.show]:
        colour = "red" if issue.level == ERROR else "yellow"
        out.print(f"[{colour}]{issue.level}[/] {escape(f'{issue.id}: {issue.code}: {issue.message}')}", soft_wrap=True)
    if len(result.issues) > args.show > 0:
        out.print(
            f"… {len(result.issues) - args.show} more"
            + (f" in {args.report}" if args.report else " (use --report F for all)")
        )
    bad = result.bad_records()
    out.print(f"{result.records - bad} of {result.records} records pass; {bad} have errors")
    return 1 if result.errors else 0

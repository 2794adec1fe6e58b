"""`zqvl-eval MODEL_OR_RUN... --shards DIR...`: loss, perplexity, exact match, chrF and the defect rate of the
answers, one column per model; `--out FILE.json` keeps the numbers."""

from __future__ import annotations

import argparse
import json
import math
import sys

from zqvl.data.io import atomic_open
from zqvl.data.template import DEFAULT_SYSTEM
from zqvl.infer.chat import DEFAULT_MAX_NEW_TOKENS
from zqvl.infer.eval import DEFECT_FAMILIES, EvalOptions, evaluate
from zqvl.progress import open_progress
from zqvl.ui import out, run_cli, table


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zqvl-eval", description="Measure models on held-out shards.")
    p.add_argument("models", nargs="+", metavar="MODEL_OR_RUN", help="model dirs, or run dirs (uses RUN/final)")
    p.add_argument(
        "--shards",
        nargs="+",
        required=True,
        metavar="DIR",
        help="shard dirs (their val split; the train split when a dir has none), globs or tars",
    )
    p.add_argument("--max-samples", type=int, help="evaluate the first N records only")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    p.add_argument("--sample", type=int, default=0, metavar="K", help="also K sampled answers per prompt")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled answers")
    p.add_argument("--batch-size", type=int, default=4, help="micro-batch for the loss")
    p.add_argument("--max-len", type=int, default=2048, help="as in training (longer records are split)")
    p.add_argument("--system", default=DEFAULT_SYSTEM, help="system prompt used in training ('' for none)")
    p.add_argument("--out", help="write the results as JSON")
    return p


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def result_rows(result: dict) -> list[list[object]]:
    models = result["models"]
    rows = [
        ["loss"] + [f"{m['loss']:.4f}" for m in models],
        ["perplexity"] + [f"{m['perplexity']:.2f}" for m in models],
        ["exact match"] + [_pct(m["exact_match"]) for m in models],
        ["chrF"] + [f"{m['chrf']:.1f}" for m in models],
        ["ended on <|im_end|>"] + [_pct(m["ended"]) for m in models],
        ["mean length (tokens)"] + [f"{m['mean_length']:.1f}" for m in models],
    ]
    rows += [[f"defect: {f}"] + [_pct(m["defects"][f]) for m in models] for f in DEFECT_FAMILIES]
    if any(m["sampled_defects"] for m in models):
        rows += [["sampled: exact match"] + [_pct(m["sampled_exact_match"] or 0.0) for m in models]]
        rows += [[f"sampled: {f}"] + [_pct(m["sampled_defects"].get(f, 0.0)) for m in models] for f in DEFECT_FAMILIES]
    return rows


def _finite(obj):
    """NaN / inf (no supervised tokens, a huge loss) as null: strict JSON readers reject them."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    opts = EvalOptions(
        max_samples=args.max_samples,
        max_new_tokens=args.max_new_tokens,
        sample=args.sample,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        batch_size=args.batch_size,
        max_len=args.max_len,
        system=args.system or None,
    )
    with open_progress("eval") as progress:
        result = evaluate(args.models, args.shards, opts, progress)
    title = f"zqvl-eval: {result['samples']} samples ({result['split']} split)"
    out.print(table(title, [""] + [m["name"] for m in result["models"]], result_rows(result)))
    if args.out:
        with atomic_open(args.out) as fh:
            fh.write(json.dumps(_finite(result), ensure_ascii=False, indent=1) + "\n")
        out.print(f"results → {args.out}", soft_wrap=True, markup=False)
    return 0


def main(argv=None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()

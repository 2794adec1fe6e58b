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
    j = p.add_argument_group("LLM judge (optional; off unless --judge-base-url is given)")
    j.add_argument("--judge-base-url", metavar="URL", help="OpenAI-compatible endpoint that judges kept records")
    j.add_argument("--judge-model", metavar="NAME", help="model name the judge endpoint serves")
    j.add_argument(
        "--judge-api-key-env",
        default="OPENAI_API_KEY",
        metavar="NAME",
        help="environment variable holding the judge's API key (default OPENAI_API_KEY); never printed",
    )
    j.add_argument(
        "--judge-cache",
        type=Path,
        metavar="FILE",
        help="verdict cache (default: DIR2.judge-cache.sqlite beside --out): a record is never sent twice",
    )
    j.add_argument("--judge-concurrency", type=int, default=8, metavar="N", help="requests in flight (default 8)")
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
    judge = _judge_hook(args)
    with open_progress("clean") as progress:
        result = clean(args.dir, args.out, config, progress, force=args.force, workers=workers, judge=judge)
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


def _judge_hook(args):
    """The judge as clean's hook: every record the rules kept, and that has English, is judged once."""
    if not args.judge_base_url:
        if args.judge_model:
            raise UsageError("--judge-model needs --judge-base-url")
        return None
    if not args.judge_model:
        raise UsageError("--judge-base-url needs --judge-model")
    if args.judge_concurrency < 1:
        raise UsageError(f"--judge-concurrency {args.judge_concurrency}: need at least 1")
    from zqvl.cli.data.translate import api_key_from_env
    from zqvl.data.io import iter_json_values
    from zqvl.data.schema import parse_record
    from zqvl.data.translate.judge import JudgeOptions, judge

    api_key = api_key_from_env(args.judge_api_key_env, "--judge-api-key-env")
    dest = Path(args.out)
    options = JudgeOptions(
        args.judge_base_url,
        args.judge_model,
        api_key,
        args.judge_cache or dest.with_name(dest.name + ".judge-cache.sqlite"),
        args.judge_concurrency,
    )

    def apply(result) -> None:
        pairs = []
        for index, value in enumerate(iter_json_values(result.path)):
            if result.decisions[index].kept:
                record = parse_record(value, index)
                if record.has_source:
                    pairs.append((index, record))
        found, stats = judge(pairs, options)
        for index, reason in found.items():
            result.decisions[index].reasons.append(reason)
        out.print(
            f"judge {options.model}: {stats.judged + stats.no_verdict} records, {stats.cached} from the cache, "
            f"{stats.requests} requests, {len(found)} rejected ({stats.no_verdict} without a valid verdict)",
            markup=False,
        )

    return apply

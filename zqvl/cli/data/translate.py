"""`zqvl-data translate DIR --out DIR2 --base-url U --model M [--dedupe]`: the thin CLI over zqvl.data.translate.

Exit codes: 0 every record translated, 1 some records failed (listed in DIR2/failed.jsonl), 2 usage error,
unreadable input, or an endpoint that refuses the key or does not know the model, 3 (--batch status/collect) a
batch is still running.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from zqvl import ui
from zqvl.data.translate.client import public_url
from zqvl.data.translate.pack import DEFAULT_PACK_TOKENS, ITEM_MAX_TOKENS
from zqvl.errors import EXIT_PENDING, UsageError
from zqvl.progress import open_progress


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="canonical input DIR (chat.json + images/)")
    p.add_argument(
        "--out", required=True, metavar="DIR2", help="output DIR2 (chat.json with `source`, images/, failed.jsonl)"
    )
    p.add_argument(
        "--base-url", required=True, metavar="URL", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"
    )
    p.add_argument("--model", required=True, metavar="NAME", help="model name the endpoint serves")
    p.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="NAME",
        help="environment variable holding the API key (default OPENAI_API_KEY); never printed",
    )
    p.add_argument(
        "--dedupe",
        action="store_true",
        help="translate each distinct string once (CC3M-style sets repeat questions massively); "
        "without it every repeat gets its own translation, i.e. varied phrasing",
    )
    p.add_argument(
        "--concurrency", type=_positive(int), default=16, metavar="N", help="requests in flight (default 16)"
    )
    p.add_argument("--rpm", type=_positive(float), metavar="N", help="at most this many requests per minute")
    p.add_argument("--tpm", type=_positive(float), metavar="N", help="at most this many tokens per minute")
    p.add_argument(
        "--timeout", type=_positive(float), default=120.0, metavar="S", help="seconds per request (default 120)"
    )
    p.add_argument(
        "--max-attempts",
        type=_positive(int),
        default=6,
        metavar="N",
        help="tries per string before it is listed as failed (default 6)",
    )
    p.add_argument(
        "--max-tokens",
        type=_positive(int),
        default=4096,
        metavar="N",
        help="ceiling for the completion budget, doubled from a per-string estimate on cut-offs",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=0.2,
        metavar="T",
        help="sampling temperature (default 0.2), raised on retries after a rejected answer",
    )
    p.add_argument(
        "--cache",
        type=Path,
        metavar="FILE",
        help="translation cache (default DIR2/translate-cache.sqlite); share one between runs "
        "to never pay twice for a string",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into an --out that holds something other than translate's output of this DIR",
    )
    p.add_argument(
        "--limit",
        type=_positive(int),
        metavar="N",
        help="translate only the first N records (look at the quality first; a later run without it reuses "
        "the cache, so nothing is paid twice)",
    )
    p.add_argument(
        "--pack-tokens",
        type=int,
        default=DEFAULT_PACK_TOKENS,
        metavar="N",
        help=f"pack short strings (under {ITEM_MAX_TOKENS} tokens) several to a request, up to N tokens of "
        f"text each, so the system prompt is paid once per pack; each is checked alone and a failed one is "
        f"sent again alone (default {DEFAULT_PACK_TOKENS}; 0: one string per request)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print records, strings, requests, prompt/completion tokens (real Qwen tokenizer) and the cost; "
        "send nothing, write nothing",
    )
    p.add_argument("--price-in", type=float, metavar="P", help="price per 1M prompt tokens, for the cost estimate")
    p.add_argument("--price-out", type=float, metavar="P", help="price per 1M completion tokens, for the estimate")
    p.add_argument(
        "--batch",
        choices=["submit", "status", "collect"],
        help="through the Batch API (half the price, results within 24 h): `submit` uploads every request as "
        "Batch JSONL, `status` shows progress, `collect` caches the results, translates live what they did not "
        "deliver and writes DIR2 (exit 3 while a batch is still running)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def qwen_counters():
    """(messages -> prompt tokens, text -> tokens) with the real Qwen tokenizer and its chat template."""
    from zqvl.model.tokenizer import load_tokenizer

    tok = load_tokenizer(add_image_token=False)

    def count_messages(msgs: list[dict]) -> int:
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return len(tok.encode(text, add_special_tokens=False))

    def count_text(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False))

    return count_messages, count_text


def dry_run(args: argparse.Namespace) -> int:
    """The run's plan, counted with the real Qwen tokenizer; nothing sent, --out not touched."""
    from zqvl.data.translate.estimate import estimate
    from zqvl.data.translate.runner import CACHE_NAME

    count_messages, count_text = qwen_counters()
    cache = args.cache or Path(args.out) / CACHE_NAME
    est = estimate(
        args.dir,
        args.model,
        dedupe=args.dedupe,
        limit=args.limit,
        cache_path=cache,
        pack_tokens=args.pack_tokens,
        count_messages=count_messages,
        count_text=count_text,
    )
    title = f"translate --dry-run {args.dir}" + (f" (first {args.limit} records)" if args.limit else "")
    ui.out.print(ui.table(title, ["", "count"], est.rows(args.price_in, args.price_out)))
    ui.out.print("nothing was sent; retries (rejected or failed answers) cost extra", markup=False)
    return 0


def api_key_from_env(name: str, flag: str) -> str:
    """The API key from environment variable `name` (never printed). The default OPENAI_API_KEY may be unset
    (a local vLLM server needs none); a variable named on purpose must exist."""
    api_key = os.environ.get(name)
    if not api_key:
        if name != "OPENAI_API_KEY":
            raise UsageError(f"{flag} {name}: that environment variable is not set")
        ui.warn("OPENAI_API_KEY is not set: sending no key (fine for a local vLLM server)")
    return api_key or ""


def run(args: argparse.Namespace) -> int:
    from zqvl.data.translate import RetryPolicy, TranslateOptions

    if not args.base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url must start with http:// or https:// (got {public_url(args.base_url)!r})")
    if not 0.0 <= args.temperature <= 2.0:
        raise UsageError(f"--temperature must be between 0 and 2 (got {args.temperature})")
    if args.pack_tokens < 0:
        raise UsageError(f"--pack-tokens must be >= 0 (got {args.pack_tokens})")
    for name in ("price_in", "price_out"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0")
    if args.dry_run:
        return dry_run(args)
    api_key = api_key_from_env(args.api_key_env, "--api-key-env")
    opts = TranslateOptions(
        base_url=args.base_url,
        model=args.model,
        api_key=api_key,
        dedupe=args.dedupe,
        concurrency=args.concurrency,
        rpm=args.rpm,
        tpm=args.tpm,
        timeout=args.timeout,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        retry=RetryPolicy(max_attempts=args.max_attempts),
        cache_path=args.cache,
        force=args.force,
        limit=args.limit,
        pack_tokens=args.pack_tokens,
    )
    if args.batch:
        return batch_action(args, opts)
    return live(args, opts)


def live(args: argparse.Namespace, opts, summary_extra: dict | None = None) -> int:
    from zqvl.data.translate import translate_dir

    with open_progress("translate", None, "req/s", "tokens", "cache_hits", enabled=not args.no_progress) as progress:
        stats = translate_dir(args.dir, args.out, opts, progress, summary_extra)
    ui.out.print(ui.table("translate summary", ["", "count"], stats.rows()))
    if stats.records_failed:
        failed = Path(args.out) / "failed.jsonl"
        ui.warn(f"{stats.records_failed} record(s) failed, listed with reasons in {failed}")
        return 1
    return 0


def batch_action(args: argparse.Namespace, opts) -> int:
    """--batch submit|status|collect; collect ends in the live run over what the batches left."""
    from zqvl.data.translate import batch

    totals: dict = {}
    if args.batch == "submit":
        report = batch.submit(args.dir, args.out, opts)
    elif args.batch == "status":
        report = batch.status(args.out, opts)
    else:
        report, totals = batch.collect(args.dir, args.out, opts)
    if report.rows:
        ui.out.print(ui.table(f"translate --batch {args.batch}", batch.HEADERS, report.rows))
    if totals:
        ui.out.print(ui.table("batch results", ["", "count"], [[k, f"{v:,}"] for k, v in totals.items()]))
    ui.out.print(report.message, markup=False)
    if report.pending:
        return EXIT_PENDING
    return live(args, opts, {"batch": totals}) if args.batch == "collect" else 0

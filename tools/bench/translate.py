"""Benchmark: translate throughput against the loopback fake endpoint (50 ms per request, concurrency 32).

Prints achieved requests/s divided by the ideal concurrency / latency (goal >= 0.9), and, as a baseline
measured in the same process, the same ratio for a bare `openai` client loop sending the same number of
requests with no masking, checking, caching or output (what the SDK alone allows on this machine).
The server runs in its own process so its threads do not compete with the client for the GIL.

Then request packing on a CC3M-like caption set (--captions distinct short captions), packed vs one string
per request: prompt tokens per source token (real Qwen tokenizer, the dry run's exact count), requests per
distinct string, and the measured run's wall time against the same endpoint.

    python tools/bench/translate.py [--requests 1500] [--rounds 3] [--latency 0.05] [--concurrency 32] [--captions 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from helpers.translate_records import caption_records, sample_records, write_chat_dir  # noqa: E402

from zqvl.cli.data.translate import qwen_counters  # noqa: E402
from zqvl.data.translate import TranslateOptions, translate_dir  # noqa: E402
from zqvl.data.translate.estimate import estimate  # noqa: E402
from zqvl.data.translate.pack import DEFAULT_PACK_TOKENS  # noqa: E402


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "helpers" / "fake_openai_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


async def bare_client(base_url: str, n: int, concurrency: int) -> float:
    """Requests/s of the SDK alone: the same call the translator makes, nothing around it."""
    import openai

    # The same transport the translator uses (aiohttp), so the ratio isolates zqvl's own work.
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key="bench", max_retries=0, http_client=openai.DefaultAioHttpClient()
    )
    jobs = iter(range(n))

    async def worker():
        for i in jobs:
            await client.post(
                "/chat/completions",
                cast_to=object,
                body={
                    "model": "bench",
                    "max_tokens": 256,
                    "messages": [{"role": "user", "content": f"Scene {i}: a dog near a sign that reads ⟦1⟧."}],
                },
            )

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await client.close()
    return n / elapsed, cpu / n


def pipeline_run(base_url: str, n: int, concurrency: int, work: Path) -> float:
    """Requests/s of the whole translate pipeline (mask, request, check, cache commit) on n distinct strings."""
    # n - 5 records -> n - 5 distinct answers + 5 repeated questions; --dedupe sends each string once.
    src = write_chat_dir(work / "in", sample_records(n - 5))
    # One string per request: this measures the request engine, not packing (see packing_run).
    opts = TranslateOptions(
        base_url=base_url, model="bench", api_key="bench", dedupe=True, concurrency=concurrency, pack_tokens=0
    )
    cpu = time.process_time()
    stats = translate_dir(src, work / "out", opts)
    cpu = time.process_time() - cpu
    assert stats.records_failed == 0 and stats.requests == n, stats
    return stats.requests_per_second, cpu / n


def packing_run(base_url: str, n: int, concurrency: int, work: Path) -> None:
    """Captions packed vs one per request: the bill (exact prompt tokens of one attempt each) and the run."""
    src = write_chat_dir(work / "in", caption_records(n))
    count_messages, count_text = qwen_counters()
    rows = {}
    for name, pack_tokens in (("one per request", 0), (f"packed ({DEFAULT_PACK_TOKENS})", DEFAULT_PACK_TOKENS)):
        plan = estimate(
            src,
            "bench",
            dedupe=True,
            limit=None,
            cache_path=None,
            pack_tokens=pack_tokens,
            count_messages=count_messages,
            count_text=count_text,
        )
        opts = TranslateOptions(
            base_url=base_url, model="bench", dedupe=True, concurrency=concurrency, pack_tokens=pack_tokens
        )
        stats = translate_dir(src, work / f"out{pack_tokens}", opts)
        assert stats.records_failed == 0 and stats.requests == plan.requests, (stats, plan)
        rows[name] = (plan, stats)
        print(
            f"  {name:18s} requests {stats.requests:6d} ({stats.requests / plan.distinct:.3f} per distinct string)  "
            f"prompt tokens {plan.prompt_tokens:9,d} = {plan.prompt_tokens / plan.source_tokens:5.2f} x the text  "
            f"wall {stats.request_seconds:6.2f} s"
        )
    (single, s_stats), (packed, p_stats) = rows.values()
    same = (work / "out0" / "chat.json").read_bytes() == (work / f"out{DEFAULT_PACK_TOKENS}" / "chat.json").read_bytes()
    print(
        f"  packed / one per request: prompt tokens {packed.prompt_tokens / single.prompt_tokens:.3f}, "
        f"requests {packed.requests / single.requests:.3f}, wall {p_stats.request_seconds / s_stats.request_seconds:.3f}"
        f"; chat.json identical: {same}   (goals: <= 3x the text, <= 0.1 requests per string)"
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1500, help="requests per measurement")
    p.add_argument("--rounds", type=int, default=3, help="alternating measurements; the median is reported")
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--captions", type=int, default=3000, help="distinct captions for the packing measurement")
    args = p.parse_args(argv)
    ideal = args.concurrency / args.latency
    server, base_url = start_server(args.latency)
    pipeline, bare = [], []
    try:
        for _ in range(args.rounds):  # alternate, so both see the same machine load
            with tempfile.TemporaryDirectory() as tmp:
                pipeline.append(pipeline_run(base_url, args.requests, args.concurrency, Path(tmp)))
            bare.append(asyncio.run(bare_client(base_url, args.requests, args.concurrency)))
        with tempfile.TemporaryDirectory() as tmp:
            print(f"packing: {args.captions} CC3M-like captions, --dedupe, {args.latency * 1000:.0f} ms latency")
            packing_run(base_url, args.captions, args.concurrency, Path(tmp))
    finally:
        server.terminate()
        server.wait(timeout=10)
    ours, sdk = (statistics.median(r for r, _ in pipeline), statistics.median(r for r, _ in bare))
    ours_cpu, sdk_cpu = (statistics.median(c for _, c in pipeline), statistics.median(c for _, c in bare))
    print(
        f"translate: {args.requests} requests x {args.rounds} rounds, {args.latency * 1000:.0f} ms latency, "
        f"concurrency {args.concurrency}: ideal {ideal:.0f} req/s"
    )
    print(
        f"  zqvl translate  {ours:7.1f} req/s   ratio to ideal {ours / ideal:.3f}   (goal >= 0.9)   "
        f"CPU {ours_cpu * 1000:.2f} ms/request (whole run)"
    )
    print(
        f"  bare openai     {sdk:7.1f} req/s   ratio to ideal {sdk / ideal:.3f}   (same-process baseline)   "
        f"CPU {sdk_cpu * 1000:.2f} ms/request"
    )
    print(f"  translate / bare openai client: {ours / sdk:.3f}")


if __name__ == "__main__":
    main()

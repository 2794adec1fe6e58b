"""Benchmark: zqvl-train against the seeds' recipe, length grouping against packing, and plain against
supervised-only logits, on this machine, in one invocation (the machine is noisy: read the ratios).

1. zqvl-train (streamed shards, DeepSpeed ZeRO-2, supervised-only logits) length-grouped and --packing, against
   ../shared/bench/seed_recipe.py (HF Trainer, pad-to-longest, full logits) on the same data and the same tiny
   shapes (the seed script's own: CLIP 56 px / 14 + a 2-layer Qwen2 with the real vocabulary): samples/s, real
   (non-pad) tokens/s, padding share, peak memory. The seed script's real tokens per sample follow its own
   tokenisation (one token per character, 16 image tokens), so its tokens/s is computed from the data.
2. One stage-1 step (batch 8 x 1,024 tokens: 16 image tokens + prompt + a 15-token caption) with the plain path
   (full fp32 logits + cross-entropy over every position, as transformers' ForCausalLMLoss) against zqvl's
   supervised-only chunked loss: time per step and the step's peak resident memory.

    python tools/bench/train.py [--steps 14] [--records 256] [--batch-size 8] [--skip-seed]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the seeds' recipe, the baseline to beat: the shared copy when this checkout has one, else the vendored copy
_SHARED_RECIPE = REPO.parent / "shared" / "bench" / "seed_recipe.py"
SEED_RECIPE = _SHARED_RECIPE if _SHARED_RECIPE.is_file() else REPO / "tools" / "bench" / "baseline" / "seed_recipe.py"

WORDS = "图片里有一只猫在窗台上晒太阳旁边放着一盆绿色的植物远处可以看到城市的高楼和蓝色的天空"

# Random-weight shapes for the benchmarks, registered as build presets here only (they are not user presets).
BENCH_VISION = {
    # the seed script's --size tiny tower, and its --size real one (seed 2: CLIP-L/14-336)
    "seed-tiny-clip": {
        "family": "clip",
        "config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "image_size": 56, "patch_size": 14},
    },
    "clip-l-336": {
        "family": "clip",
        "config": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
                   "num_attention_heads": 16, "image_size": 336, "patch_size": 14, "projection_dim": 768},
    },
}  # fmt: skip
BENCH_LLM = {
    "seed-tiny-qwen2": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                        "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": False},
    "qwen2-0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
                   "num_key_value_heads": 2, "tie_word_embeddings": True, "max_position_embeddings": 32768},
}  # fmt: skip


def register_shapes() -> None:
    from zqvl.model.presets import LLM_PRESETS, QWEN_VL_CHAT_VISUAL, VISION_PRESETS

    VISION_PRESETS.update(BENCH_VISION)
    VISION_PRESETS["qwen-vl-chat"] = {"family": "qwen_vl", "config": dict(QWEN_VL_CHAT_VISUAL)}  # ViT-bigG/448
    for name, shape in BENCH_LLM.items():
        LLM_PRESETS[name] = {**LLM_PRESETS["tiny-qwen2"], **shape}


def make_data(root: Path, n: int, seed: int = 0, answer_chars: float = 3.2) -> Path:
    """Chats with realistic spread: 1-5 turns, answers from a few to a few hundred characters (lognormal around
    e^answer_chars)."""
    from PIL import Image

    rng = random.Random(seed)
    (root / "images").mkdir(parents=True)
    records = []
    for i in range(n):
        Image.new("RGB", (48, 48), tuple(rng.randrange(256) for _ in range(3))).save(root / "images" / f"{i}.png")
        convs = []
        for k in range(rng.choice([1, 1, 1, 2, 3, 5])):
            q = ("<image>\n" if k == 0 else "") + "".join(rng.choices(WORDS, k=rng.randint(5, 30))) + "？"
            a = "".join(rng.choices(WORDS, k=int(rng.lognormvariate(answer_chars, 0.9)) + 3)) + "。"
            convs += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
        records.append({"id": f"b{i:05d}", "image": f"{i}.png", "conversations": convs})
    (root / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return root


def build_and_shard(tmp: Path, vision: str, llm: str, records: int, answer_chars: float = 3.2, dtype: str = "auto"):
    from zqvl.data.shards.writer import ShardOptions, shard_dir
    from zqvl.model.build import build_model

    register_shapes()
    model = build_model(vision, llm, tmp / "model", dtype=dtype)
    data = make_data(tmp / "data", records, answer_chars=answer_chars)
    shard_dir(data, tmp / "shards", ShardOptions(max_count=64), workers=0)
    return model, data, tmp / "shards"


def mean_after(rows: list[dict], key: str, skip: int) -> float | None:
    values = [r[key] for r in rows[skip:] if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def run_zqvl(model: Path, shards: Path, out: Path, *, steps: int, batch: int, max_len: int, packing: bool,
             skip: int, workers: int = 1, lr: float = 1e-4) -> dict:  # fmt: skip
    """zqvl-train stage 2 as a user runs it; rates over the steps after the first `skip`."""
    cmd = [sys.executable, "-m", "zqvl.cli.train", "--stage", "2", "--model", str(model), "--shards", str(shards)]
    cmd += ["--out", str(out), "--max-steps", str(steps), "--batch-size", str(batch), "--max-len", str(max_len)]
    cmd += ["--num-workers", str(workers), "--save-every", "0", "--no-tensorboard", "--lr", str(lr)]
    cmd += ["--eval-every", "0"] + (["--packing"] if packing else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"zqvl-train failed:\n{done.stderr[-3000:]}")
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    rows = [r for r in rows if "step_time" in r][skip:]
    secs = sum(r["step_time"] for r in rows)
    tokens = sum(r["tokens"] for r in rows)
    padded = sum(r["tokens"] / (1 - r["padding"]) if r["padding"] < 1 else r["tokens"] for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    return {
        "samples_s": sum(r["samples"] for r in rows) / secs,
        "tokens_s": tokens / secs,
        "tokens_step": tokens / len(rows),
        "padding": 1 - tokens / padded,
        "mfu": mean_after(rows, "mfu", 0),
        "peak_gb": summary["peak_memory_gb"],
    }


SEED_WRAPPER = """
import json, resource, runpy, sys, torch
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else \\
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print("PEAK_GB", peak)
"""


def seed_tokens_per_sample(data: Path, image_tokens: int) -> float:
    """The seed script's own tokenisation of a sample: image tokens + one per character of the history (tags
    removed) + one per character of the last answer + <|im_end|>; it draws records uniformly."""
    records = [r for r in json.loads((data / "chat.json").read_text(encoding="utf-8")) if r.get("image")]
    counts = []
    for r in records:
        conv = r["conversations"]
        history = "".join(c["value"] for c in conv[:-1]).replace("<image>", "")
        counts.append(image_tokens + max(1, len(history)) + max(1, len(conv[-1]["value"])) + 1)
    return sum(counts) / len(counts)


def run_seed_recipe(data: Path, *, size: str, steps: int, batch: int, bf16: bool, workers: int = 1) -> dict:
    """../shared/bench/seed_recipe.py unchanged (its first 3 steps are its warm-up); peak memory from a wrapper."""
    if not SEED_RECIPE.is_file():
        sys.exit(f"{SEED_RECIPE} not found (the seeds' recipe, the baseline to beat)")
    args = [str(SEED_RECIPE), str(data), "--size", size, "--steps", str(steps), "--bs", str(batch)]
    args += ["--workers", str(workers)] + (["--bf16"] if bf16 else [])
    done = subprocess.run([sys.executable, "-c", SEED_WRAPPER, *args], capture_output=True, text=True)
    found = re.search(r"seed-recipe \w+: ([\d.]+) samples/s .*\((?:bs \d+), (\d+) image tokens\)", done.stdout)
    peak = re.search(r"PEAK_GB ([\d.]+)", done.stdout)
    if done.returncode != 0 or not found or not peak:
        sys.exit(f"seed_recipe.py failed:\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}")
    samples_s, image_tokens = float(found.group(1)), int(found.group(2))
    return {
        "samples_s": samples_s,
        "tokens_s": samples_s * seed_tokens_per_sample(data, image_tokens),
        "padding": None,
        "mfu": None,
        "peak_gb": float(peak.group(1)),
    }


# -- 2. plain vs supervised-only logits -----------------------------------------------------------------------
def _rss_peak_reset() -> int:
    """Reset this process's peak RSS (Linux clear_refs 5) and return the current RSS in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def logits_paths(model_dir: Path, rows: int, length: int, answer: int, repeat: int) -> dict:
    """One stage-1 step (projector trains) with each loss path; best time and the step's extra peak RSS."""
    import torch

    from zqvl.model.build import load_model
    from zqvl.model.loss import IGNORE
    from zqvl.train.parts import apply_train_type

    model, processor = load_model(model_dir)
    model, _ = apply_train_type(model, "projector")
    model.train()
    g = torch.Generator().manual_seed(0)
    n_img = processor.num_image_tokens
    ids = torch.randint(0, 150000, (rows, length), generator=g)
    ids[:, 1 : 1 + n_img] = processor.image_token_id
    labels = torch.full_like(ids, IGNORE)
    labels[:, -answer:] = ids[:, -answer:]
    size = model.config.vision_config.image_size
    pixels = torch.randn(rows, 3, size, size, generator=g)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels, "use_cache": False}

    def plain():
        logits = model(**inputs).logits
        torch.nn.functional.cross_entropy(
            logits[:, :-1].float().flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE
        ).backward()

    def supervised():
        model(**inputs, labels=labels).loss.backward()

    paths = {"plain": plain, "supervised": supervised}
    out = {name: {"secs": float("inf"), "peak_gb": 0.0} for name in paths}
    for _ in range(repeat):  # alternate, so both see the same machine load
        for name, fn in paths.items():
            model.zero_grad(set_to_none=True)
            before = _rss_peak_reset()
            t = time.perf_counter()
            fn()
            secs = time.perf_counter() - t
            peak = _status_kib("VmHWM") * 1024 - before
            out[name]["secs"] = min(out[name]["secs"], secs)
            out[name]["peak_gb"] = max(out[name]["peak_gb"], peak / 2**30)
    for name in paths:
        out[name]["tokens_s"] = rows * length / out[name]["secs"]
    return out


def ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=14)
    p.add_argument("--skip", type=int, default=2, help="first steps left out of zqvl's rates (warm-up)")
    p.add_argument("--records", type=int, default=256)
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="samples per micro-batch (seed, grouped); the packed run gets rows holding as many tokens",
    )
    p.add_argument("--max-len", type=int, default=1024)
    p.add_argument(
        "--packed-rows", type=int, default=0, help="rows per packed micro-batch (0: as many tokens as grouped)"
    )
    p.add_argument("--skip-seed", action="store_true", help="leave out seed_recipe.py (about a minute)")
    p.add_argument("--skip-logits", action="store_true", help="leave out the plain vs supervised-only step")
    p.add_argument("--logits-rows", type=int, default=8)
    p.add_argument("--logits-len", type=int, default=1024)
    args = p.parse_args()

    from zqvl.ui import out, table

    with tempfile.TemporaryDirectory(prefix="zqvl-bench-train-") as tmp:
        tmp = Path(tmp)
        model, data, shards = build_and_shard(tmp, "seed-tiny-clip", "seed-tiny-qwen2", args.records)
        common = {"steps": args.steps, "max_len": args.max_len, "skip": args.skip}
        runs = {
            "zqvl grouped": run_zqvl(model, shards, tmp / "grouped", packing=False, batch=args.batch_size, **common)
        }
        # the same tokens per step: rows of max-len holding what a grouped micro-batch holds
        rows = args.packed_rows or max(1, round(runs["zqvl grouped"]["tokens_step"] / args.max_len))
        runs[f"zqvl packed ({rows} row{'s' * (rows > 1)})"] = run_zqvl(
            model, shards, tmp / "packed", packing=True, batch=rows, **common
        )
        if not args.skip_seed:
            runs["seed_recipe.py"] = run_seed_recipe(
                data, size="tiny", steps=args.steps + 1, batch=args.batch_size, bf16=False
            )
        paths = None if args.skip_logits else logits_paths(model, args.logits_rows, args.logits_len, 15, repeat=2)

    base = runs.get("seed_recipe.py")
    pct = lambda x: f"{x:.1%}" if x is not None else "-"  # noqa: E731
    rows = []
    for name, r in runs.items():
        rows.append([
            name, f"{r['samples_s']:,.2f}", f"{r['tokens_s']:,.0f}", pct(r["padding"]), f"{r['peak_gb']:.2f}",
            ratio(r["samples_s"], base and base["samples_s"]), ratio(r["tokens_s"], base and base["tokens_s"]),
        ])  # fmt: skip
    out.print(
        table(
            f"stage 2, seed-tiny shapes, {args.records} records, batch {args.batch_size}, max-len {args.max_len}",
            ["", "samples/s", "real tokens/s", "padding", "peak RSS GiB", "samples/s vs seed", "tokens/s vs seed"],
            rows,
        )
    )
    g, k = runs["zqvl grouped"], next(r for name, r in runs.items() if name.startswith("zqvl packed"))
    out.print(
        f"packed vs grouped: real tokens/s {ratio(k['tokens_s'], g['tokens_s'])}, "
        f"padding {pct(g['padding'])} -> {pct(k['padding'])}"
    )
    if paths is None:
        return
    pl, su = paths["plain"], paths["supervised"]
    out.print(
        table(
            f"one stage-1 step, {args.logits_rows} x {args.logits_len} tokens, 15 supervised per row",
            ["loss path", "ms/step", "tokens/s", "step peak RSS GiB"],
            [
                ["plain (full fp32 logits)", f"{pl['secs'] * 1000:,.0f}", f"{pl['tokens_s']:,.0f}", f"{pl['peak_gb']:.2f}"],
                ["zqvl (supervised only)", f"{su['secs'] * 1000:,.0f}", f"{su['tokens_s']:,.0f}", f"{su['peak_gb']:.2f}"],
                ["ratio", "", ratio(su["tokens_s"], pl["tokens_s"]), ratio(su["peak_gb"], pl["peak_gb"])],
            ],
        )
    )  # fmt: skip
    out.print("GPU samples/s, MFU and peak memory at the seeds' real shapes: tools/bench/gpu_train.py on a GPU host.")


if __name__ == "__main__":
    main()

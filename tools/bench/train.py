"""Benchmark: zqvl-train's loop (streamed shards, length-grouped micro-batches, DeepSpeed ZeRO-2) against the
seed's recipe (HF-Trainer style: the same records pre-tokenized in memory, random order, pad-to-longest
batches, a plain torch AdamW loop), on the tiny model, stage 2, in the same process.

Prints steps/s, samples/s, real (non-pad) tokens/s, padding share and loader wait for both, and the ratios.
On a CPU host this measures the data side (padding, loader wait); GPU samples/s and MFU need a GPU host
(`--vision`/`--llm` sized presets are not downloadable here).

    python tools/bench/train.py [--steps 14] [--records 256] [--batch-size 8] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = "图片里有一只猫在窗台上晒太阳旁边放着一盆绿色的植物远处可以看到城市的高楼和蓝色的天空"


def make_data(root: Path, n: int, seed: int = 0) -> Path:
    """Chats with realistic spread: 1-5 turns, answers from a few to a few hundred characters."""
    from PIL import Image

    rng = random.Random(seed)
    (root / "images").mkdir(parents=True)
    records = []
    for i in range(n):
        Image.new("RGB", (48, 48), tuple(rng.randrange(256) for _ in range(3))).save(root / "images" / f"{i}.png")
        convs = []
        for k in range(rng.choice([1, 1, 1, 2, 3, 5])):
            q = ("<image>\n" if k == 0 else "") + "".join(rng.choices(WORDS, k=rng.randint(5, 30))) + "？"
            a = "".join(rng.choices(WORDS, k=int(rng.lognormvariate(3.2, 0.9)) + 3)) + "。"
            convs += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
        records.append({"id": f"b{i:05d}", "image": f"{i}.png", "conversations": convs})
    (root / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return root


def rates(rows: list[dict], skip: int) -> dict:
    rows = rows[skip:]
    secs = sum(r["step_time"] for r in rows)
    tokens = sum(r["tokens"] for r in rows)
    padded = sum(r["tokens"] / (1 - r["padding"]) if r["padding"] < 1 else r["tokens"] for r in rows)
    return {
        "steps_s": len(rows) / secs,
        "samples_s": sum(r["samples"] for r in rows) / secs,
        "tokens_s": tokens / secs,
        "padding": 1 - tokens / padded,
        "wait": sum(r.get("loader_wait", 0) * r["step_time"] for r in rows) / secs,
    }


def run_zqvl(model: Path, shards: Path, out: Path, args) -> dict:
    from zqvl.train.config import resolve
    from zqvl.train.loop import setup_distributed, train

    cfg = resolve(
        2,
        None,
        {
            "model": str(model),
            "shards": [str(shards)],
            "out": str(out),
            "max_steps": args.steps,
            "batch_size": args.batch_size,
            "num_workers": args.workers,
            "save_every": 0,
            "tensorboard": False,
            "max_len": args.max_len,
            "lr": 1e-4,
        },
    )
    setup_distributed()
    out.mkdir(parents=True)
    train(cfg, resume=False)
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    return rates(rows, args.skip)


def run_baseline(model_dir: Path, data: Path, args) -> dict:
    """The seed's recipe: every record tokenized up front, shuffled, pad-to-longest batches, plain AdamW."""
    import torch

    from zqvl.data.io import iter_records
    from zqvl.infer.chat import open_image
    from zqvl.model.build import load_model
    from zqvl.train.collate import Dropped, Tokenizer, build_samples, collate
    from zqvl.train.parts import apply_train_type

    model, processor = load_model(model_dir)
    model, _ = apply_train_type(model, "freeze_vision")
    model.train()
    tok = Tokenizer(processor.tokenizer, processor.image_token_id, processor.num_image_tokens)
    samples = []
    for record in iter_records(data / "chat.json"):
        try:
            pieces = build_samples(record, tok, args.max_len, "You are a helpful assistant.")
        except Dropped:
            continue
        pixels = processor.preprocess_images([open_image(data / "images" / p) for p in record.images])
        for s in pieces:
            s.pixel_values = pixels[s.image_index]
        samples.extend(pieces)
    random.Random(0).shuffle(samples)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    rows, pos = [], 0
    for _ in range(args.steps):
        if pos + args.batch_size > len(samples):
            pos = 0
        batch = collate(samples[pos : pos + args.batch_size], processor.tokenizer.pad_token_id)
        pos += args.batch_size
        t0 = time.perf_counter()
        # the seeds' stock model: LM head and loss over every position, full fp32 logits (HF's ForCausalLMLoss)
        logits = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            pixel_values=batch["pixel_values"],
            use_cache=False,
        ).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().flatten(0, 1), batch["labels"][:, 1:].flatten(), ignore_index=-100
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        rows.append(
            {
                "step_time": time.perf_counter() - t0,
                "samples": len(batch["ids"]),
                "tokens": batch["tokens"],
                "padding": 1 - batch["tokens"] / batch["padded"],
                "loader_wait": 0.0,
            }
        )
    return rates(rows, args.skip)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=14)
    p.add_argument("--skip", type=int, default=2, help="first steps left out of the rates (warm-up)")
    p.add_argument("--records", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--max-len", type=int, default=1024)
    args = p.parse_args()

    from zqvl.cli.train import single_process_env
    from zqvl.data.shards.writer import ShardOptions, shard_dir
    from zqvl.model.build import build_model
    from zqvl.ui import out, table

    single_process_env()
    with tempfile.TemporaryDirectory(prefix="zqvl-bench-train-") as tmp:
        tmp = Path(tmp)
        model = build_model("tiny-clip", "tiny-qwen2", tmp / "model")
        data = make_data(tmp / "data", args.records)
        shard_dir(data, tmp / "shards", ShardOptions(max_count=64), workers=0)
        base = run_baseline(model, data, args)
        ours = run_zqvl(model, tmp / "shards", tmp / "run", args)

    def row(name, key, fmt):
        ratio = ours[key] / base[key] if base[key] else float("nan")
        return [name, fmt(ours[key]), fmt(base[key]), f"{ratio:.2f}x"]

    pct = lambda x: f"{x:.1%}"  # noqa: E731
    num = lambda x: f"{x:,.2f}"  # noqa: E731
    out.print(
        table(
            f"tiny model, stage 2, batch {args.batch_size}, {args.steps} steps (first {args.skip} skipped)",
            ["", "zqvl-train", "seed recipe", "ratio"],
            [
                row("steps/s", "steps_s", num),
                row("samples/s", "samples_s", num),
                row("real tokens/s", "tokens_s", num),
                row("padding share", "padding", pct),
                ["loader wait", pct(ours["wait"]), pct(base["wait"]), "-"],
            ],
        )
    )
    out.print("GPU samples/s and MFU (Qwen2-0.5B + SigLIP sized, bf16, seq 2048) need a GPU host: not measured here.")


if __name__ == "__main__":
    main()

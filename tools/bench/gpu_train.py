"""GPU benchmark at the seeds' real shapes: zqvl-train against the seeds' recipe, stage 2, bf16, seq 2048.

Builds random-weight models of the seeds' shapes — Qwen-VL-Chat's ViT-bigG/448 + resampler (256 image tokens) +
Qwen2-0.5B (seed 1) and CLIP-L/14-336 (576 image tokens) + Qwen2-0.5B (seed 2) — and the same synthetic chats
for both, then runs zqvl-train (--packing into rows of --seq tokens, supervised-only logits, DeepSpeed ZeRO-2) and
../shared/bench/seed_recipe.py (HF Trainer, pad-to-longest, last-turn labels, full logits; its real size is the
CLIP one, so seed 1's shapes have no seed column). Prints samples/s, real tokens/s, MFU and peak GPU memory for
each, and zqvl's ratios to the seed recipe. MFU counts the FLOPs each side really runs (zqvl's LM head on
supervised tokens only; the seed's on every position) against the card's dense bf16 peak.

    python tools/bench/gpu_train.py              # one GPU; about 5 minutes on an H100/H200 including model builds
    python tools/bench/gpu_train.py --smoke      # the same code on CPU with tiny shapes (CI runs this)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import build_and_shard, ratio, run_seed_recipe, run_zqvl, seed_tokens_per_sample  # noqa: E402

# (name, vision shape, LLM shape, seed recipe --size or None); --smoke swaps in tiny shapes of the same families
PAIRS = {
    "qwen-vl": ("qwen-vl-chat", "qwen2-0.5b", None),
    "clip": ("clip-l-336", "qwen2-0.5b", "real"),
}
SMOKE_PAIRS = {
    "qwen-vl": ("tiny-qwen-vl", "seed-tiny-qwen2", None),
    "clip": ("seed-tiny-clip", "seed-tiny-qwen2", "tiny"),
}


def seed_mfu(model_dir: Path, data: Path, samples_s: float, image_tokens: int) -> float | None:
    """The seed recipe's MFU from its own work per sample (every position through the LM head), counted with
    zqvl's FLOP model on the same shapes (built on the meta device: no weights)."""
    import torch

    from zqvl.model.configuration import ZqvlConfig
    from zqvl.model.modeling import ZqvlForConditionalGeneration
    from zqvl.train.parts import apply_train_type
    from zqvl.train.telemetry import flop_model, peak_flops

    peak = peak_flops()
    if peak is None:
        return None
    with torch.device("meta"):
        model = ZqvlForConditionalGeneration(ZqvlConfig.from_pretrained(model_dir))
    model, parts = apply_train_type(model, "freeze_vision")
    n = round(seed_tokens_per_sample(data, image_tokens))
    # attention: the mean sample length squared, a lower bound (pad-to-longest attends more)
    return samples_s * flop_model(model, parts).per_step(tokens=n, attended=n * n, images=1, supervised=n) / peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny shapes on CPU: checks the code path, not the speed")
    p.add_argument("--pairs", default="qwen-vl,clip", help="which shapes: qwen-vl, clip or both")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 30; smoke 5)")
    p.add_argument("--batch-size", type=int, default=None, help="zqvl rows and seed samples per step (default 8)")
    p.add_argument("--seq", type=int, default=None, help="--max-len of zqvl's packed rows (default 2048; smoke 256)")
    p.add_argument("--records", type=int, default=None, help="synthetic chats (default 600; smoke 48)")
    args = p.parse_args()

    import torch

    from zqvl.ui import out, table

    if not args.smoke and not torch.cuda.is_available():
        sys.exit("gpu_train.py needs a CUDA GPU; --smoke runs the same code on CPU with tiny shapes")
    steps = args.steps or (5 if args.smoke else 30)
    batch = args.batch_size or (2 if args.smoke else 8)
    seq = args.seq or (256 if args.smoke else 2048)
    records = args.records or (48 if args.smoke else 600)
    skip = 1 if args.smoke else 5
    shapes = SMOKE_PAIRS if args.smoke else PAIRS
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"

    rows = []
    for pair in args.pairs.split(","):
        if pair not in shapes:
            sys.exit(f"--pairs: unknown {pair!r} (choose from {', '.join(shapes)})")
        vision, llm, seed_size = shapes[pair]
        with tempfile.TemporaryDirectory(prefix=f"zqvl-gpu-bench-{pair}-") as tmp:
            tmp = Path(tmp)
            dtype = "float32" if args.smoke else "bfloat16"
            model, data, shards = build_and_shard(tmp, vision, llm, records, answer_chars=2.5 if args.smoke else 5.0,
                                                  dtype=dtype)  # fmt: skip
            ours = run_zqvl(model, shards, tmp / "run", steps=steps, batch=batch, max_len=seq, packing=True,
                            skip=skip, lr=1e-5)  # fmt: skip
            seed = None
            if seed_size:
                seed = run_seed_recipe(data, size=seed_size, steps=steps + 3, batch=batch, bf16=not args.smoke)
                image_tokens = 16 if args.smoke else 576
                seed["mfu"] = seed_mfu(model, data, seed["samples_s"], image_tokens)
        label = f"{vision} + {llm}"
        for name, r in (("zqvl-train", ours), ("seed recipe", seed)):
            if r is None:  # seed_recipe.py builds CLIP + Qwen2 only
                rows.append([label, name, "n/a", "n/a", "n/a", "n/a"])
                continue
            mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
            rows.append([label, name, f"{r['samples_s']:,.2f}", f"{r['tokens_s']:,.0f}", mfu, f"{r['peak_gb']:.2f}"])
        if seed:
            rows.append([label, "zqvl / seed", ratio(ours["samples_s"], seed["samples_s"]),
                         ratio(ours["tokens_s"], seed["tokens_s"]), ratio(ours["mfu"], seed["mfu"]),
                         ratio(ours["peak_gb"], seed["peak_gb"])])  # fmt: skip
    mode = "smoke (tiny shapes, CPU: not a speed figure)" if args.smoke else "bf16"
    out.print(
        table(
            f"stage 2 on {device}, {mode}, {steps} steps, batch {batch}, seq {seq}",
            ["shapes", "run", "samples/s", "real tokens/s", "MFU", "peak memory GiB"],
            rows,
        )
    )


if __name__ == "__main__":
    main()

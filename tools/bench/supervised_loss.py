"""Supervised-only chunked loss vs the plain full-logits loss, in one process on the same batch.

Stage-1-like batch: 8 rows x 600 tokens (256 image tokens + prompt + a short caption), ~5 % of positions
supervised, real Qwen2 vocabulary (151,936) on a small Qwen2 LM. Prints forward+backward time per step for both
paths, their ratio, and the bytes the fp32 logits of the plain path take.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from zqvl.model.loss import IGNORE, supervised_cross_entropy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--length", type=int, default=600)
    p.add_argument("--answer", type=int, default=30, help="supervised tokens per row")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=151936,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    ids = torch.randint(0, 151936, (args.rows, args.length))
    labels = torch.full_like(ids, IGNORE)
    labels[:, -args.answer :] = ids[:, -args.answer :]

    def plain():
        model(input_ids=ids, labels=labels).loss.backward()

    def ours():
        hidden = model.model(input_ids=ids).last_hidden_state
        supervised_cross_entropy(hidden, labels, model.lm_head).backward()

    times = {"plain (full logits)": [], "zqvl (supervised only)": []}
    for _ in range(args.repeat):  # alternate, so both see the same machine load
        for name, fn in (("plain (full logits)", plain), ("zqvl (supervised only)", ours)):
            model.zero_grad(set_to_none=True)
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    best = {name: min(ts) for name, ts in times.items()}
    for name, t in best.items():
        print(f"{name:24s} {t * 1000:8.1f} ms/step")
    print(
        f"speed-up: {best['plain (full logits)'] / best['zqvl (supervised only)']:.2f}x; plain path's fp32 logits: "
        f"{args.rows * args.length * 151936 * 4 / 2**30:.2f} GiB, ours at most "
        f"{min(args.rows * args.answer, 4096) * 151936 * 4 / 2**30:.3f} GiB at once"
    )


if __name__ == "__main__":
    main()

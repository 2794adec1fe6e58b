"""Image preprocessing throughput: zqvl's ImageProcessor vs transformers' image processor (baseline), same process.

    python tools/bench/bench_image_preprocess.py [--images 64] [--repeat 3]

Both produce the same pixels (tests/test_model_processor.py checks it); this measures only the cost.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from PIL import Image

from zqvl.model.image_processing import ImageProcessor
from zqvl.model.presets import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

CASES = {
    "qwen-vl 448 plain": ImageProcessor(448, 448, "plain", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
    "clip 336 crop": ImageProcessor(336, 336, "crop", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
}


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from transformers import AutoImageProcessor
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    rng = np.random.default_rng(0)
    images = [Image.fromarray((rng.random((480, 640, 3)) * 255).astype("uint8")) for _ in range(args.images)]
    print(f"{args.images} images 640x480, best of {args.repeat}")
    for name, ours in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            ours.save(tmp)
            baseline = AutoImageProcessor.from_pretrained(tmp)
        t_hf = best_of(lambda hf=baseline: hf(images=images, return_tensors="pt"), args.repeat)
        t_ours = best_of(lambda mine=ours: mine(images), args.repeat)
        print(
            f"{name:18s} transformers {args.images / t_hf:7.1f} img/s   zqvl {args.images / t_ours:7.1f} img/s"
            f"   speedup x{t_hf / t_ours:.2f}"
        )


if __name__ == "__main__":
    main()

"""`make demo`: the whole zqvl flow with tiny models, under runs/demo/.

The data tools run on the bundled sample; then a tiny model (random weights) learns a synthetic world of
coloured shapes in three stages and `zqvl-eval` scores each stage on held-out pictures. Each step runs the real
command-line tool a user would type (printed before it runs), so the demo doubles as a walkthrough of the README.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "zqvl" / "assets" / "sample"
RUN = REPO / "runs" / "demo"
BIN = Path(sys.executable).parent
console = Console(highlight=False)


def step(title: str, *argv: str, ok_codes=(0,)) -> int:
    console.rule(f"[bold]{title}")
    shown = " ".join(shlex.quote(os.path.relpath(a, REPO) if a.startswith(str(REPO)) else a) for a in argv)
    console.print(f"[dim]$ {shown}[/]")
    t = time.perf_counter()
    code = subprocess.call([str(BIN / argv[0]), *argv[1:]], cwd=REPO)
    console.print(f"[dim]exit {code}, {time.perf_counter() - t:.1f} s[/]")
    if code not in ok_codes:
        console.print(f"[bold red]demo stopped: {argv[0]} exited {code}[/]")
        sys.exit(code)
    return code


def english_copy(src: Path, dst: Path) -> int:
    """The sample's translated records with their English `source` as the value: input for a real translate run."""
    from zqvl.data.io import iter_records, write_records

    records = [r for r in iter_records(src / "chat.json") if all(t.source for t in r.turns)]
    for r in records:
        for t in r.turns:
            t.value, t.source = t.source, None
    (dst / "images").mkdir(parents=True)
    for r in records:
        for rel in r.images:
            shutil.copyfile(src / "images" / rel, dst / "images" / rel)
    return write_records(dst / "chat.json", records)


def train(stage: int, model: Path, shards: Path, steps: int, train_type: str) -> Path:
    out = RUN / f"stage{stage}"
    # ZeRO stage 0: one CPU process has nothing to partition, and its steps are ~3x faster than ZeRO-2's.
    step(
        f"{stage + 6}. train stage {stage} ({STAGE_NOTES[stage]}, {steps} steps)",
        "zqvl-train",
        "--stage",
        str(stage),
        "--model",
        str(model),
        "--shards",
        str(shards),
        "--out",
        str(out),
        "--max-steps",
        str(steps),
        "--batch-size",
        "8",
        "--lr",
        TINY_LR,
        "--train-type",
        train_type,
        "--zero-stage",
        "0",
        "--num-workers",
        "1",
        "--save-every",
        "0",
        "--keep-last",
        "1",
        "--no-tensorboard",
    )
    return out / "final"


STAGE_NOTES = {1: "projector only", 2: "everything learns", 3: "everything learns, a second pass"}
# The tiny random model needs a high learning rate to learn within a few hundred steps; the presets' 2e-5 is
# for real weights.
TINY_LR = "3e-3"
# Stage 1 aligns the projector; stages 2-3 train the random vision tower too ("full"): frozen random features
# tell colours apart but not shapes.
# Stage 1 alone barely moves the loss of a random LLM (11.77 -> 11.76 in 60 steps), so it is kept short.
STEPS = {1: 20, 2: 300, 3: 100}


def data_tools() -> None:
    """Steps 1-3: the data tools on the bundled sample (real-world-shaped records, some broken on purpose)."""
    step(
        "1. validate the bundled sample (broken records are planted on purpose)",
        "zqvl-data",
        "validate",
        str(SAMPLE),
        "--report",
        str(RUN / "validate.jsonl"),
        "--max-len",
        "2048",
        "--image-tokens",
        "16",
        ok_codes=(0, 1),
    )
    translated = SAMPLE
    base_url, model = os.environ.get("ZQVL_TRANSLATE_BASE_URL"), os.environ.get("ZQVL_TRANSLATE_MODEL")
    if base_url and model:
        n = english_copy(SAMPLE, RUN / "en")
        console.print(f"{n} English records prepared in {RUN / 'en'}")
        step(
            "2. translate through the configured endpoint",
            "zqvl-data",
            "translate",
            str(RUN / "en"),
            "--out",
            str(RUN / "zh"),
            "--base-url",
            base_url,
            "--model",
            model,
            "--dedupe",
            ok_codes=(0, 1),
        )
        translated = RUN / "zh"
    else:
        console.rule("[bold]2. translate")
        console.print(
            "no endpoint configured (set ZQVL_TRANSLATE_BASE_URL and ZQVL_TRANSLATE_MODEL, key in "
            "OPENAI_API_KEY): using the bundled records, which already carry their English `source`"
        )
    step("3. clean the translated records", "zqvl-data", "clean", str(translated), "--out", str(RUN / "clean"))


def main(argv=None) -> None:
    import argparse

    global RUN  # train() and data_tools() write under it

    p = argparse.ArgumentParser(description="the whole zqvl flow with tiny models, under runs/demo/")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic world")
    p.add_argument("--out", type=Path, default=RUN, help="where everything goes (default runs/demo)")
    p.add_argument("--smoke", action="store_true", help="a tiny world and 2 steps per stage (plumbing only)")
    args = p.parse_args(argv)
    RUN = args.out.resolve()
    records, steps, samples = (40, {1: 2, 2: 2, 3: 2}, 4) if args.smoke else (1200, STEPS, 60)
    if RUN.exists():
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True)
    started = time.perf_counter()
    data_tools()
    # The bundled sample is too small and too varied to learn from; a synthetic world of coloured shapes is
    # learnable by a tiny model on CPU, and its held-out pictures tell whether the model really looks.
    world = RUN / "world"
    step(
        "4. draw a synthetic world: one coloured shape per picture, answers like 红色的圆形",
        "zqvl-data",
        "synth",
        "--out",
        str(world),
        "--records",
        str(records),
        "--seed",
        str(args.seed),
    )
    shards = RUN / "shards" / "world"
    step(
        "5. shard it, holding out ~5 % of the pictures as the val split",
        "zqvl-data",
        "shard",
        str(world),
        "--out",
        str(shards),
        "--val-fraction",
        "0.05",
    )
    step(
        "6. build a tiny model (CLIP-style tower + Qwen2, random weights, real Qwen tokenizer)",
        "zqvl-model",
        "build",
        "--vision",
        "tiny-clip",
        "--llm",
        "tiny-qwen2",
        "--out",
        str(RUN / "model"),
    )
    stage1 = train(1, RUN / "model", shards, steps[1], "projector")
    stage2 = train(2, stage1, shards, steps[2], "full")
    train(3, stage2, shards, steps[3], "full")
    step(
        "10. score the three stages on the held-out pictures",
        "zqvl-eval",
        *(str(RUN / f"stage{i}") for i in (1, 2, 3)),
        "--shards",
        str(shards),
        "--max-samples",
        str(samples),
        "--max-new-tokens",
        "24",
        "--out",
        str(RUN / "eval.json"),
    )
    image = next(iter(sorted((world / "images").iterdir())))
    step(
        "11. chat with the stage-3 model",
        "zqvl-chat",
        str(RUN / "stage3" / "final"),
        "--image",
        str(image),
        "图片里有什么？",
        "--max-new-tokens",
        "24",
    )
    console.rule()
    scores = json.loads((RUN / "eval.json").read_text(encoding="utf-8"))
    stage3 = scores["models"][-1]
    console.print(
        f"[bold green]demo finished in {time.perf_counter() - started:.0f} s[/]: the stage-3 model "
        f"names {100 * stage3['exact_match']:.0f} % of {scores['samples']} held-out pictures exactly "
        f"({RUN / 'eval.json'}). Try: zqvl-chat {RUN / 'stage3'} --image {image} "
        '"图片里有什么？"'
    )


if __name__ == "__main__":
    main()

"""`make demo`: the whole zqvl flow on the bundled sample with tiny models, under runs/demo/.

Each step runs the real command-line tool a user would type (printed before it runs), so the demo doubles as
a walkthrough of the README.
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


def train(stage: int, model: Path, shards: Path, extra=()) -> Path:
    out = RUN / f"stage{stage}"
    step(
        f"{stage + 4}. train stage {stage} ({STAGE_NOTES[stage]})",
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
        "30",
        "--batch-size",
        "4",
        "--num-workers",
        "1",
        "--save-every",
        "15",
        "--keep-last",
        "1",
        *extra,
    )
    return out / "final"


STAGE_NOTES = {1: "projector only", 2: "projector + LLM, vision frozen", 3: "same, on the cleaned data"}
# The tiny random model needs a high learning rate to learn to end its answers within a few dozen steps; the
# presets' 2e-5 is for real weights.
TINY_LR = ("--lr", "5e-3")


def main() -> None:
    if RUN.exists():
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True)
    started = time.perf_counter()
    # The sample carries a few records broken on purpose: validate exits 1 and names each one.
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
    step(
        "4a. shard the sample (records validate rejects are skipped and listed)",
        "zqvl-data",
        "shard",
        str(SAMPLE),
        "--out",
        str(RUN / "shards" / "sample"),
        "--max-count",
        "16",
    )
    step(
        "4b. shard the cleaned records",
        "zqvl-data",
        "shard",
        str(RUN / "clean"),
        "--out",
        str(RUN / "shards" / "clean"),
        "--max-count",
        "16",
    )
    step(
        "4c. build a tiny model (CLIP-style tower + Qwen2, random weights, real Qwen tokenizer)",
        "zqvl-model",
        "build",
        "--vision",
        "tiny-clip",
        "--llm",
        "tiny-qwen2",
        "--out",
        str(RUN / "model"),
    )
    stage1 = train(1, RUN / "model", RUN / "shards" / "sample")
    stage2 = train(2, stage1, RUN / "shards" / "sample", TINY_LR)
    final = train(3, stage2, RUN / "shards" / "clean", TINY_LR)

    image = SAMPLE / "images" / "s000.png"
    step("8. chat with the stage-3 model", "zqvl-chat", str(final), "--image", str(image), "图片里有什么？")
    prompts = RUN / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({"question": q, "image": str(SAMPLE / "images" / img)}, ensure_ascii=False) + "\n"
            for q, img in [("图片里有什么？", "s000.png"), ("标志上写着什么？", "s003.jpg")]
        ),
        encoding="utf-8",
    )
    step(
        "9. compare the three stages",
        "zqvl-chat",
        "--compare",
        *(str(RUN / f"stage{i}") for i in (1, 2, 3)),
        "--prompts",
        str(prompts),
        "--max-new-tokens",
        "64",
    )
    console.rule()
    console.print(
        f"[bold green]demo finished in {time.perf_counter() - started:.0f} s[/]; outputs under "
        f"{RUN.relative_to(REPO)}/ — the model has random weights: its answers show the flow works, "
        "not quality. Try: zqvl-chat runs/demo/stage3/final --image "
        'zqvl/assets/sample/images/s000.png "图片里有什么？"'
    )


if __name__ == "__main__":
    main()

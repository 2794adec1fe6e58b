"""`make ablation`: does `zqvl-data clean` help? One synth world, two stage-3 runs that differ only in cleaning.

Stage 1 (projector) and stage 2 (everything learns) run on a defect-free world; stage 3 then continues twice from
that same stage-2 model, with the same steps, lr and seed: once on a world with `--defects` (default 25 %)
translation defects, once on the same records after `zqvl-data clean`. All three are scored by `zqvl-eval` on a
separate defect-free world (another seed): loss, exact match, chrF, and how often clean's detectors fire on the
greedy answers and on sampled ones (temperature 1, top-p 1, so a defect the model learned at 4 % shows at ~4 %).

Writes OUT/results.json = {"stage2": M, "raw": M, "clean": M} (M: zqvl-eval's entry for that model) and
OUT/results.md. `--smoke` runs a handful of steps on a tiny world: it checks the plumbing, not the result.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from zqvl.infer.eval import DEFECT_FAMILIES  # the families zqvl-eval reports, in its order

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The caption world's answers are templated ("红色的圆形"): clean's set-level near-duplicate checks would drop
# identical facts about different pictures, which is not a translation defect.
SYNTH_CLEAN = Path(__file__).with_name("synth_clean.yaml")  # near-duplicate checks off for templated worlds


def run(*argv: str) -> None:
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    started = time.perf_counter()
    code = subprocess.call([str(BIN / argv[0]), *argv[1:]], cwd=REPO, stdout=subprocess.DEVNULL)
    print(f"  exit {code}, {time.perf_counter() - started:.1f} s", flush=True)
    if code != 0:
        sys.exit(f"ablation stopped: {argv[0]} exited {code}")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "ablation")
    p.add_argument("--records", type=int, default=1200, help="records per training world")
    p.add_argument("--val-records", type=int, default=60)
    p.add_argument("--defects", type=float, default=0.25, help="defect rate of the stage-3 world")
    # Stage 1 trains the projector alone in front of a random LLM: it barely moves the loss (11.77 -> 11.76 in
    # 60 steps), so it stays short; stage 2 is where the tiny model learns the world.
    p.add_argument("--steps", default="20,300,450", help="steps of stage 1,2,3")
    p.add_argument(
        "--stage2",
        type=Path,
        help="reuse this stage-2 model (trained on a defect-free caption world, "
        "e.g. runs/demo/stage2) instead of training stages 1-2 here",
    )
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--sample", type=int, default=4, help="sampled answers per val image")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="a tiny world and 2 steps per stage (plumbing only)")
    args = p.parse_args(argv)
    if args.smoke:
        args.records, args.val_records, args.steps, args.sample = 24, 4, "2,2,2", 1
    return args


def train(stage: int, model: Path, shards: Path, out: Path, steps: int, args, train_type: str) -> Path:
    # ZeRO stage 0: one process, nothing to partition, and ~3x faster steps on CPU than the default ZeRO-2.
    run(
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
        str(args.batch_size),
        "--lr",
        str(args.lr),
        "--train-type",
        train_type,
        "--seed",
        str(args.seed),
        "--num-workers",
        "1",
        "--zero-stage",
        "0",
        "--save-every",
        "0",
        "--keep-last",
        "1",
        "--no-tensorboard",
    )
    return out / "final"


def markdown(results: dict, meta: dict) -> str:
    def pct(x):
        return f"{100 * x:.1f} %"

    def defect_total(m, key):
        return sum(m[key].get(f, 0.0) for f in DEFECT_FAMILIES) if m[key] else 0.0

    cols = list(results)
    rows = [
        ("val loss", lambda m: f"{m['loss']:.3f}"),
        ("exact match", lambda m: pct(m["exact_match"])),
        ("exact match, sampled", lambda m: pct(m["sampled_exact_match"])),
        ("chrF", lambda m: f"{m['chrf']:.1f}"),
        ("ended on <\\|im_end\\|>", lambda m: pct(m["ended"])),
        ("defect rate, greedy", lambda m: pct(defect_total(m, "defects"))),
        ("defect rate, sampled", lambda m: pct(defect_total(m, "sampled_defects"))),
    ]
    rows += [(f"sampled: {f}", lambda m, f=f: pct(m["sampled_defects"].get(f, 0.0))) for f in DEFECT_FAMILIES]
    lines = [f"Clean ablation: {meta['summary']}", "", "| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines += [f"| {name} | " + " | ".join(cell(results[c]) for c in cols) + " |" for name, cell in rows]
    lines += ["", "Defect rates sum clean's per-answer detectors (an answer hit by two counts twice)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    args = parse_args(argv)
    s1, s2, s3 = (int(x) for x in args.steps.split(","))
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.perf_counter()
    worlds = {"base": (args.records, 0.0, args.seed + 1)} if not args.stage2 else {}
    worlds |= {"dirty": (args.records, args.defects, args.seed + 2), "val": (args.val_records, 0.0, args.seed + 3)}
    for name, (n, rate, seed) in worlds.items():
        run(
            "zqvl-data",
            "synth",
            "--out",
            str(out / name),
            "--records",
            str(n),
            "--seed",
            str(seed),
            "--defects",
            str(rate),
        )
    run("zqvl-data", "clean", str(out / "dirty"), "--out", str(out / "cleaned"), "--config", str(SYNTH_CLEAN))
    for name in ("base", "dirty", "cleaned", "val"):
        if name != "base" or not args.stage2:
            run("zqvl-data", "shard", str(out / name), "--out", str(out / "shards" / name))
    if args.stage2:
        stage2 = args.stage2.resolve()
    else:
        run("zqvl-model", "build", "--vision", "tiny-clip", "--llm", "tiny-qwen2", "--out", str(out / "model"))
        stage1 = train(1, out / "model", out / "shards" / "base", out / "stage1", s1, args, "projector")
        stage2 = train(2, stage1, out / "shards" / "base", out / "stage2", s2, args, "full")
    raw = train(3, stage2, out / "shards" / "dirty", out / "raw", s3, args, "full")
    clean = train(3, stage2, out / "shards" / "cleaned", out / "clean", s3, args, "full")
    run(
        "zqvl-eval",
        str(stage2),
        str(raw),
        str(clean),
        "--shards",
        str(out / "shards" / "val"),
        "--max-new-tokens",
        "24",
        "--sample",
        str(args.sample),
        "--temperature",
        "1.0",
        "--top-p",
        "1.0",
        "--out",
        str(out / "eval.json"),
    )
    models = json.loads((out / "eval.json").read_text(encoding="utf-8"))["models"]
    results = dict(zip(("stage2", "raw", "clean"), models))
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    kept = len(json.loads((out / "cleaned" / "chat.json").read_text(encoding="utf-8")))
    labels = json.loads((out / "dirty" / "labels.json").read_text(encoding="utf-8"))
    if args.stage2:
        s1 = s2 = 0
    summary = (
        f"{args.records} records per world, {len(labels)} with a defect ({args.defects:.0%}), clean kept "
        f"{kept}; steps {s1}/{s2}/{s3}, lr {args.lr}, batch {args.batch_size}; "
        f"{args.val_records} val images, {args.sample} samples each at T=1"
        + (f"; stages 1-2 reused from {args.stage2}." if args.stage2 else ".")
    )
    (out / "results.md").write_text(markdown(results, {"summary": summary}), encoding="utf-8")
    print((out / "results.md").read_text(encoding="utf-8"))
    print(f"ablation finished in {time.perf_counter() - started:.0f} s -> {out}/results.json")


if __name__ == "__main__":
    main()

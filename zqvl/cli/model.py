"""`zqvl-model build | info | export`: thin wrappers over zqvl.model.build / info / export."""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from zqvl.cli.parser import ArgumentParser
from zqvl.ui import run_cli

BUILD_STEPS = ("vision tower", "language model", "tokenizer", "assemble", "save")


def _parser() -> argparse.ArgumentParser:
    from zqvl.model.presets import DEFAULT_PROJECTOR, LLM_PRESETS, VISION_PRESETS

    parser = ArgumentParser(prog="zqvl-model", description="build, inspect and export zqvl models")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    b = sub.add_parser("build", help="vision tower + projector + Qwen2 LLM -> one HF model directory")
    b.add_argument(
        "--vision",
        required=True,
        help=f"preset ({', '.join(VISION_PRESETS)}) or a local Qwen-VL-Chat / CLIP / SigLIP directory",
    )
    b.add_argument("--llm", required=True, help=f"preset ({', '.join(LLM_PRESETS)}) or a local Qwen2 directory")
    b.add_argument("--out", required=True, help="new output directory (must not exist)")
    b.add_argument(
        "--tokenizer",
        default="auto",
        help="auto (the LLM dir's own, else the real Qwen one), qwen, or a tokenizer directory",
    )
    b.add_argument("--projector", default=DEFAULT_PROJECTOR, help="mlpNx_gelu or linear (default %(default)s)")
    b.add_argument(
        "--feature-layer",
        type=int,
        default=None,
        help="CLIP/SigLIP hidden-state index used as image features (default: -2 CLIP, -1 SigLIP)",
    )
    b.add_argument("--cls", choices=("drop", "keep"), default=None, help="CLIP: drop (default) or keep the CLS token")
    b.add_argument(
        "--resize",
        choices=("plain", "crop"),
        default=None,
        help="override the tower's preprocessing: plain resize (keeps image edges) or centre crop",
    )
    b.add_argument("--dtype", default="auto", help="auto (the LLM's), float32, bfloat16 or float16")
    b.add_argument("--seed", type=int, default=0, help="seed for randomly initialised parts")
    i = sub.add_parser("info", help="parameters per part and what trains in each stage")
    i.add_argument("dir")
    e = sub.add_parser("export", help="write a copy plain transformers loads (CLIP/SigLIP builds)")
    e.add_argument("dir")
    e.add_argument("--format", required=True, choices=("hf-llava",))
    e.add_argument("--out", required=True, help="new output directory (must not exist)")
    c = sub.add_parser(
        "export-checkpoint",
        help="a training checkpoint (any ZeRO stage, LoRA merged) -> a model dir like RUN/final",
    )
    c.add_argument("run", help="a run dir (its newest complete checkpoint) or one RUN/checkpoints/step-N dir")
    c.add_argument("--step", type=int, help="the checkpoint of this step (default: the newest complete one)")
    c.add_argument("--out", required=True, help="new output directory (must not exist)")
    return parser


def _build(args) -> int:
    from pathlib import Path

    from zqvl.errors import UsageError
    from zqvl.progress import open_progress

    if Path(args.out).exists():  # before paying for the torch import
        raise UsageError(f"--out {args.out} already exists; choose a new directory (nothing is overwritten)")
    from zqvl.model.build import build_model

    with open_progress("build", len(BUILD_STEPS), "step") as progress:

        def on_step(name: str) -> None:
            progress.update(BUILD_STEPS.index(name), step=name)

        path = build_model(
            args.vision,
            args.llm,
            args.out,
            tokenizer=args.tokenizer,
            projector=args.projector,
            feature_layer=args.feature_layer,
            cls=args.cls,
            resize=args.resize,
            dtype=args.dtype,
            seed=args.seed,
            on_step=on_step,
        )
        progress.update(len(BUILD_STEPS), step="done")
    _print_info(path)
    return 0


def _print_info(directory) -> None:
    """The model's own tables, then what each stage preset and train type of the trainer would train."""
    from zqvl.model.info import describe, human
    from zqvl.train.config import TrainConfig
    from zqvl.train.presets import trainable
    from zqvl.ui import out, table

    info = describe(directory)
    for t in _model_tables(directory, info, human, table):
        out.print(t)
    plan = trainable(info["counts"], info["shapes"], TrainConfig.lora_r)
    stages = [
        [f"{s['stage']} {s['name']}", s["train_type"], s["vision"], s["projector"], s["llm"], human(s["trainable"])]
        for s in plan["stages"]
    ]
    types = [
        [t["train_type"], t["vision"], t["projector"], t["llm"], human(t["trainable"])] for t in plan["train_types"]
    ]
    out.print(
        table(
            "trainable by stage (preset train type; zqvl-train --train-type overrides)",
            ["stage", "train type", "vision", "projector", "llm", "trainable"],
            stages,
        )
    )
    out.print(
        table(
            f"train types (LoRA r={TrainConfig.lora_r} on the LLM only)",
            ["train type", "vision", "projector", "llm", "trainable"],
            types,
        )
    )


def _model_tables(directory, info: dict, human, table) -> list:
    """rich tables: model summary, parameters per part."""
    cfg, build = info["config"], info["build"]
    vision, text = cfg["vision_config"], cfg["text_config"]
    summary = [
        ["vision tower", f"{vision['model_type']} ({build.get('vision', '?')})"],
        ["image", f"{vision['image_size']} px, {build.get('image_preprocessing', '?')}"],
        ["image tokens", f"{cfg['num_image_tokens']} per image, id {cfg['image_token_id']}"],
        ["projector", cfg["projector_type"]],
        ["language model", f"{text['model_type']} ({build.get('llm', '?')}), vocab {text['vocab_size']}"],
        ["dtype", cfg.get("dtype", "?")],
    ]
    total = sum(info["counts"].values()) or 1
    parts = [[p, f"{n:,}", human(n), f"{100 * n / total:.1f}%"] for p, n in info["counts"].items()]
    parts.append(["total", f"{total:,}", human(total), "100%"])
    return [
        table(f"model {directory}", ["", ""], summary),
        table("parameters per part", ["part", "parameters", "", "share"], parts),
    ]


def _info(args) -> int:
    from zqvl.train.export import resolve_model
    from zqvl.ui import err

    path, note = resolve_model(args.dir)
    if note:
        err.print(escape(note))
    _print_info(path)
    return 0


def _export_checkpoint(args) -> int:
    from pathlib import Path

    from zqvl.errors import UsageError
    from zqvl.train import checkpoint
    from zqvl.ui import out

    if Path(args.out).exists():
        raise UsageError(f"--out {args.out} already exists; choose a new directory (nothing is overwritten)")
    run = Path(args.run)
    if (run / checkpoint.MARKER).is_file():
        if args.step is not None:
            raise UsageError(f"{run} is one checkpoint already; --step picks one inside a run dir")
        ckpt = run
    else:
        tags = checkpoint.complete_tags(run / "checkpoints")
        if not tags:
            raise UsageError(f"{run}: no complete checkpoint under {run / 'checkpoints'}")
        tag = checkpoint.latest(run / "checkpoints") if args.step is None else checkpoint.tag_of(args.step)
        if tag not in tags:
            have = ", ".join(str(int(t.removeprefix("step-"))) for t in tags)
            raise UsageError(f"{run}: no complete checkpoint at step {args.step} (there are: {have})")
        ckpt = run / "checkpoints" / tag
    from zqvl.train.export import export_checkpoint

    path = export_checkpoint(ckpt, Path(args.out))
    out.print(
        f"exported {escape(str(ckpt))} -> {escape(str(path))} (LoRA merged; zqvl-chat, zqvl-eval and zqvl-train take it)"
    )
    return 0


def _export(args) -> int:
    from zqvl.model.export import export_model
    from zqvl.ui import out

    path = export_model(args.dir, args.out, args.format)
    out.print(
        f"exported {escape(str(args.dir))} -> {escape(str(path))} ({args.format}: LlavaForConditionalGeneration + AutoProcessor, "
        f"no trust_remote_code)"
    )
    return 0


def _main(argv=None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    return {"build": _build, "info": _info, "export": _export, "export-checkpoint": _export_checkpoint}[args.command](
        args
    )


def main(argv=None) -> None:
    sys.exit(run_cli(_main, argv))

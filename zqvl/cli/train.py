"""`zqvl-train --stage 1|2|3 --model DIR --shards GLOB --out RUN`: thin CLI over zqvl.train.loop.

Runs as one process (gloo on CPU; rank/world/master set here when absent) or under `torchrun` / `deepspeed`
for several GPUs or nodes. Options resolve as stage preset <- --config YAML <- flags; the result is saved
to RUN/config.yaml, and `--resume` reads it back (only run-length and logging options may change).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from contextlib import nullcontext
from pathlib import Path

from zqvl.cli.parser import ArgumentParser
from zqvl.data.lock import exclusive_dir, is_only_lock
from zqvl.errors import UsageError
from zqvl.train.config import TrainConfig, add_config_arguments, from_saved, load_yaml_overrides, resolve, validate
from zqvl.ui import err, out, run_cli, table

# what may differ on --resume without breaking "losses equal an uninterrupted run"
RESUME_MAY_CHANGE = {
    "max_steps",
    "epochs",
    "save_every",
    "keep_last",
    "log_every",
    "tensorboard",
    "eval_every",
    "eval_shards",
    "eval_max_records",
    "max_drop",
}


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="zqvl-train", description="Train a zqvl model stage on shards with DeepSpeed.")
    p.add_argument("--stage", type=int, choices=(1, 2, 3), help="1 align (projector), 2 instruct, 3 cleaned zh")
    p.add_argument("--model", help="model dir: `zqvl-model build` output or a previous stage's RUN/final")
    p.add_argument("--shards", nargs="+", metavar="SHARDS", help="shard dirs (with manifest.json), .tar files or globs")
    p.add_argument("--out", metavar="RUN", help="run dir (created; must not exist unless --resume); required")
    p.add_argument("--config", metavar="YAML", help="option overrides applied on top of the stage preset")
    p.add_argument("--resume", action="store_true", help="continue RUN from its newest checkpoint")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (stage preset + --config + flags; RUN's saved one with --resume) and exit",
    )
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)  # deepspeed
    add_config_arguments(p)
    return p


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    run = Path(args.out)
    overrides = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    saved = run / "config.yaml"
    if args.resume:
        if not saved.is_file():
            raise UsageError(f"--resume: {saved} not found; start the run without --resume")
        if (run / "final").exists():
            raise UsageError(
                f"--resume: {run} has finished ({run / 'final'} exists); train further as a new run "
                f"with --model {run / 'final'}"
            )
        cfg = from_saved(saved)
        for key, value in overrides.items():
            if key == "out" or getattr(cfg, key) == value:
                continue
            if key not in RESUME_MAY_CHANGE:
                raise UsageError(
                    f"--resume cannot change {key} ({getattr(cfg, key)!r} -> {value!r}): the resumed "
                    f"run must equal an uninterrupted one; only {', '.join(sorted(RESUME_MAY_CHANGE))}"
                )
            setattr(cfg, key, value)
        validate(cfg)
        return cfg
    if args.stage is None or not args.model or not args.shards:
        raise UsageError("--stage, --model and --shards are required (unless --resume)")
    if run.exists() and not is_only_lock(run):
        raise UsageError(f"--out {run} exists and is not empty: pass --resume to continue it or choose a new --out")
    file_overrides = load_yaml_overrides(args.config) if args.config else {}
    cfg = resolve(args.stage, file_overrides, overrides)
    if not (Path(cfg.model) / "config.json").is_file():
        raise UsageError(f"--model {cfg.model}: not a model dir (no config.json); build one with `zqvl-model build`")
    from zqvl.train.loader import resolve_shards

    resolve_shards(cfg.shards)  # fail now, not after DeepSpeed and the model have started
    check_accel(cfg)
    return cfg


def check_accel(cfg: TrainConfig) -> None:
    """--attention and --liger fail here, before RUN/ is written, where this machine cannot run them."""
    from zqvl.train.accel import check_liger, resolve_attention

    resolve_attention(cfg.attention, packing=cfg.packing)
    if cfg.liger:
        check_liger()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single_process_env() -> None:
    """Launched without torchrun/deepspeed: be rank 0 of 1 (gloo on CPU needs the rendezvous variables)."""
    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(_free_port()))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # skips DeepSpeed's accelerator probe and its warning


def print_summary(summary: dict, message: str, run: Path) -> None:
    s = summary
    rows = [
        ["stage / train type", f"{s['stage']} / {s['train_type']}"],
        ["processes / precision / ZeRO", f"{s['processes']} / {s['precision']} / {s['zero_stage']}"],
        [
            "steps",
            f"{s['steps']} of {s['total_steps']}" + (f" (resumed at {s['resumed_from']})" if s["resumed_from"] else ""),
        ],
        ["samples / tokens", f"{s['samples']:,} / {s['tokens']:,}"],
        ["supervised tokens", f"{s['supervised_tokens']:,}"],
        ["padding", f"{s['padding']:.1%}"],
        ["loss first → last (5-step means)", f"{s['loss_first']:.4f} → {s['loss_last']:.4f}"],
        [
            "val loss (last)",
            f"{s['val_loss']:.4f} at step {s['val_losses'][-1][0]}"
            if s.get("val_losses")
            else "n/a (no val split, or --eval-every 0)",
        ],
        ["time", f"{s['seconds']:.1f} s"],
        ["samples/s / tokens/s", f"{s['samples_s']:.2f} / {s['tokens_s']:,.0f}"],
        ["loader wait", f"{s['loader_wait']:.1%}"],
        ["MFU", f"{s['mfu']:.1%}" if s["mfu"] is not None else "n/a (no GPU)"],
        ["peak memory (GPU tensors or CPU RSS)", f"{s['peak_memory_gb']:.2f} GiB" if "peak_memory_gb" in s else "n/a"],
        ["trainable params", ", ".join(f"{k} {t:,}/{n:,}" for k, (t, n) in s["trainable"].items() if n)],
        ["records split at turn boundaries", s["records_split"]],
        ["records dropped", ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "none"],
        *(
            [
                f"mix: {name}",
                f"weight {m['weight']:g}: {m['share']:.1%} of samples ({m['samples']:,}), in its epoch {m['epoch']}",
            ]
            for name, m in (s.get("mix") or {}).items()
        ),
        ["checkpoints saved", ", ".join(s["checkpoints"]) or "none"],
    ]
    out.print(table(f"zqvl-train {run}", ["", "value"], rows))
    (err if s["exit"] else out).print(message)


def print_config(args: argparse.Namespace) -> int:
    """The config a run would use, as RUN/config.yaml would hold it; nothing is checked on disk or started."""
    import yaml

    if args.resume:
        cfg = resolve_config(args)
    else:
        overrides = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
        file_overrides = load_yaml_overrides(args.config) if args.config else {}
        cfg = resolve(args.stage or 2, file_overrides, overrides)
    out.print(yaml.safe_dump(cfg.to_dict(), allow_unicode=True, sort_keys=False), end="", markup=False)
    return 0


def _main(argv=None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.print_config:
        return print_config(args)
    if not args.out:
        raise UsageError("--out RUN is required (the run dir)")
    # Rank 0 holds RUN's lock for the whole run: a second zqvl-train (or --resume) into RUN is refused.
    first_rank = os.environ.get("RANK", "0") == "0"
    locking = first_rank and (not args.resume or Path(args.out).is_dir())
    with exclusive_dir(args.out, "zqvl-train") if locking else nullcontext():
        return _train(args)


def _train(args) -> int:
    cfg = resolve_config(args)
    single_process_env()
    from zqvl.train.loop import setup_distributed, train

    rank = setup_distributed()  # a barrier: every rank has checked --out before rank 0 writes into it
    if rank == 0:
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(cfg.run_dir / "config.yaml")
    outcome = train(cfg, resume=args.resume)
    if rank == 0:
        from zqvl.data.io import atomic_open

        with atomic_open(cfg.run_dir / "summary.json", "w") as fh:
            json.dump({**outcome.summary, "message": outcome.message}, fh, indent=2, ensure_ascii=False)
        print_summary(outcome.summary, outcome.message, cfg.run_dir)
    return outcome.code


def main(argv=None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()

"""Checkpoints as models: any RUN/checkpoints/step-N (any ZeRO stage, LoRA merged) -> a plain HF model dir.

`save_model_dir` is the one writer of a trained model dir (RUN/final and every export). `resolve_model` is the one
place that turns what a user points at — a model dir, a run dir, a checkpoint dir — into a model dir, so that
zqvl-chat, zqvl-eval and zqvl-model info accept the same things: a run dir means the newest of final/ and its
last complete checkpoint; a checkpoint is exported once to RUN/exports/step-N and reused while it is unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

import torch

from zqvl.errors import UsageError
from zqvl.train import checkpoint

EXPORTS = "exports"
META = "zqvl_train.json"


def save_model_dir(model: torch.nn.Module, processor, directory: Path, meta: dict) -> None:
    """Weights (LoRA merged), tokenizer, processor and zqvl_train.json into `directory` (the caller renames it
    into place, so a reader never sees half a model)."""
    from zqvl.train.parts import unwrap_lora

    unwrap_lora(model).save_pretrained(str(directory))
    processor.save_pretrained(directory)
    (directory / META).write_text(json.dumps(meta, indent=2) + "\n")


def _module_state(ckpt: Path) -> dict[str, torch.Tensor]:
    """The full module state dict of one checkpoint. ZeRO-0/1/2 keep whole weights in the model-states file;
    ZeRO-3 keeps only partitions, which DeepSpeed's own zero_to_fp32 reassembles."""
    if list(ckpt.glob("zero_pp_rank_*_mp_rank_*_model_states.pt")):  # ZeRO-3: one params partition per rank
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

        with contextlib.redirect_stdout(sys.stderr):  # it prints its progress; stdout is the command's answer
            return get_fp32_state_dict_from_zero_checkpoint(str(ckpt.parent), tag=ckpt.name)
    states = ckpt / "mp_rank_00_model_states.pt"
    if not states.is_file():
        raise UsageError(f"{ckpt}: no DeepSpeed model states in it (mp_rank_00_model_states.pt)")
    return torch.load(states, map_location="cpu", weights_only=False)["module"]


def checkpoint_step(ckpt: Path) -> int:
    return int(ckpt.name.removeprefix("step-"))


def export_checkpoint(ckpt: Path, out: Path) -> Path:
    """RUN/checkpoints/step-N -> `out`, a model dir like RUN/final (written under a temp name, then renamed)."""
    from transformers.utils import logging as hf_logging

    from zqvl.model.build import load_model
    from zqvl.train.config import from_saved
    from zqvl.train.parts import apply_train_type

    hf_logging.disable_progress_bar()  # chat/eval/info print their own output; loading bars are noise there
    ckpt, out = Path(ckpt), Path(out)
    if not (ckpt / checkpoint.MARKER).is_file():
        raise UsageError(f"{ckpt}: not a complete checkpoint (no {checkpoint.MARKER}: a save that did not finish)")
    run = ckpt.parent.parent
    if not (run / "config.yaml").is_file():
        raise UsageError(f"{ckpt}: its run dir {run} has no config.yaml, so the model it started from is unknown")
    cfg = from_saved(run / "config.yaml")
    if not Path(cfg.model).exists():
        raise UsageError(f"{ckpt}: the run started from {cfg.model}, which is gone; the checkpoint holds only deltas")
    model, processor = load_model(cfg.model)
    model, _ = apply_train_type(
        model,
        cfg.train_type,
        lora_r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        lora_targets=cfg.lora_targets,
    )
    state = _module_state(ckpt)
    dtypes = {t.dtype for t in state.values() if t.is_floating_point()}
    model = model.to(dtypes.pop() if len(dtypes) == 1 else torch.float32)  # bf16 runs save bf16, as final/ does
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UsageError(
            f"{ckpt}: its weights do not fit {cfg.model} with train type {cfg.train_type} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.eval()
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = {
        "stage": cfg.stage,
        "train_type": cfg.train_type,
        "steps": checkpoint_step(ckpt),
        "from_model": cfg.model,
        "from_checkpoint": str(ckpt.resolve()),
        # which save of this step it is: a crashed run resumed can save the same step again
        "checkpoint_marker": (ckpt / checkpoint.MARKER).read_text(),
    }
    save_model_dir(model, processor, tmp, meta)
    os.replace(tmp, out)
    return out


def _final_step(final: Path) -> int:
    try:
        return int(json.loads((final / META).read_text())["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return -1  # a final/ from elsewhere: older than any checkpoint of this run


def _cached_export(ckpt: Path) -> Path:
    """RUN/exports/step-N, exported on first use and again whenever the checkpoint was re-saved."""
    out = ckpt.parent.parent / EXPORTS / ckpt.name
    marker = (ckpt / checkpoint.MARKER).read_text()
    try:
        if json.loads((out / META).read_text()).get("checkpoint_marker") == marker:
            return out
    except (OSError, ValueError):
        pass
    out.parent.mkdir(exist_ok=True)
    shutil.rmtree(out.with_name(f"{ckpt.name}.new"), ignore_errors=True)  # left by a crash mid-swap
    fresh = export_checkpoint(ckpt, out.with_name(f"{ckpt.name}.new"))
    if out.exists():
        shutil.rmtree(out)
    os.replace(fresh, out)
    return out


def resolve_model(path: str | Path) -> tuple[Path, str | None]:
    """(model dir, one line saying which checkpoint was used, or None) for a model, run or checkpoint dir."""
    path = Path(path)
    if (path / "config.json").is_file():
        return path, None
    if (path / checkpoint.MARKER).is_file():
        return _cached_export(path), f"{path}: checkpoint at step {checkpoint_step(path)}"
    final, tag = path / "final", checkpoint.latest(path / "checkpoints")
    has_final = (final / "config.json").is_file()
    if tag and (not has_final or checkpoint_step(path / "checkpoints" / tag) > _final_step(final)):
        why = "no final/" if not has_final else "newer than final/"
        ckpt = path / "checkpoints" / tag
        return _cached_export(ckpt), f"{path}: using its last checkpoint, step {checkpoint_step(ckpt)} ({why})"
    if has_final:
        return final, None
    raise UsageError(f"{path}: neither a model dir (config.json) nor a run dir with final/ or a complete checkpoint")

"""Checkpoints: DeepSpeed engine state (weights, optimizer, LR schedule) + each rank's data position and RNG.

A checkpoint is RUN/checkpoints/step-00000042/. DeepSpeed writes its files; every rank writes
data_rank{R}.pt; rank 0 writes COMPLETE last, so a checkpoint without it (a crash while saving) is never used
and is removed by the next save. Only the newest `keep_last` complete checkpoints stay.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch

MARKER = "COMPLETE"


def tag_of(step: int) -> str:
    return f"step-{step:08d}"


def complete_tags(ckpt_dir: Path) -> list[str]:
    if not ckpt_dir.is_dir():
        return []
    return sorted(p.name for p in ckpt_dir.iterdir() if p.name.startswith("step-") and (p / MARKER).is_file())


def latest(ckpt_dir: Path) -> str | None:
    tags = complete_tags(ckpt_dir)
    return tags[-1] if tags else None


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save(engine, ckpt_dir: Path, step: int, rank_state: dict, shared_state: dict, keep_last: int) -> Path:
    """Collective: every rank calls it. Returns the checkpoint path."""
    import torch.distributed as dist

    tag = tag_of(step)
    path = ckpt_dir / tag
    rank = dist.get_rank()
    if rank == 0 and path.exists():  # a leftover of a crash during an earlier save of this very step
        shutil.rmtree(path)
    dist.barrier()
    engine.save_checkpoint(str(ckpt_dir), tag=tag, client_state=shared_state, save_latest=False)
    torch.save({**rank_state, "rng": rng_state()}, path / f"data_rank{rank}.pt")
    dist.barrier()
    if rank == 0:
        with open(path / MARKER, "w") as fh:
            json.dump({"step": step, "time": time.time(), "world_size": dist.get_world_size()}, fh)
        prune(ckpt_dir, keep_last)
    dist.barrier()
    return path


def prune(ckpt_dir: Path, keep_last: int) -> None:
    """Keep the newest `keep_last` complete checkpoints; drop older ones and any a crash left incomplete."""
    if keep_last < 1:
        raise ValueError("keep_last must be >= 1: the newest checkpoint is what --resume needs")
    keep = set(complete_tags(ckpt_dir)[-keep_last:])
    for p in ckpt_dir.iterdir():
        if p.name.startswith("step-") and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def load(engine, ckpt_dir: Path, tag: str) -> tuple[dict, dict]:
    """Restore engine state from `tag`; returns (this rank's data state, shared client state)."""
    import torch.distributed as dist

    path = ckpt_dir / tag
    meta = json.loads((path / MARKER).read_text())
    world = dist.get_world_size()
    if meta["world_size"] != world:
        # the data position is per rank: a different world size cannot continue at the exact next sample
        from zqvl.errors import UsageError

        raise UsageError(
            f"checkpoint {path} was written by {meta['world_size']} processes, this run has {world}; "
            "resume with the same number of processes"
        )
    _, shared = engine.load_checkpoint(
        str(ckpt_dir), tag=tag, load_optimizer_states=True, load_lr_scheduler_states=True
    )
    rank_state = torch.load(path / f"data_rank{dist.get_rank()}.pt", weights_only=False)
    set_rng_state(rank_state.pop("rng"))
    return rank_state, shared or {}

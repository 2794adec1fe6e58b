"""DeepSpeed setup pieces: config dict, precision, optimizer groups, LR schedule, step count, signal flag."""

from __future__ import annotations

import math
import signal

import torch

from zqvl.errors import UsageError
from zqvl.train.config import TrainConfig


class StopFlag:
    """SIGTERM/SIGINT ask for a checkpoint at the next micro-batch; a second SIGINT aborts at once."""

    def __init__(self):
        self.signum: int | None = None
        self.previous: dict = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


class Schedule:
    """LR factor: linear warmup, then cosine / linear decay to min_ratio, or constant. A callable object (not a
    lambda) so LambdaLR saves its settings in the checkpoint."""

    def __init__(self, kind: str, warmup: int, total: int, min_ratio: float):
        self.kind, self.warmup, self.total, self.min_ratio = kind, warmup, total, min_ratio

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.kind == "constant":
            return 1.0
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        if self.kind == "linear":
            return 1.0 - (1.0 - self.min_ratio) * progress
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_precision(cfg: TrainConfig) -> str:
    if cfg.precision == "auto":
        return "bf16" if torch.cuda.is_available() else "fp32"
    if cfg.precision in ("bf16", "fp16") and not torch.cuda.is_available():
        raise UsageError(f"--precision {cfg.precision} needs a GPU; on CPU training runs in fp32")
    return cfg.precision


def deepspeed_config(cfg: TrainConfig, precision: str) -> dict:
    cuda = torch.cuda.is_available()
    zero: dict = {
        "stage": cfg.zero_stage,
        "contiguous_gradients": True,
        "overlap_comm": cuda,
        "reduce_bucket_size": 5e7,
        "allgather_bucket_size": 5e7,
    }
    if cfg.zero_stage == 3:
        zero["stage3_param_persistence_threshold"] = 1e4
    return {
        "train_micro_batch_size_per_gpu": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "gradient_clipping": cfg.grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16", "loss_scale": 0, "initial_scale_power": 16},
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 1 << 30,
        "wall_clock_breakdown": False,
    }


def optimizer_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices; never biases, norms or other 1-D parameters."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def total_steps(cfg: TrainConfig, world_size: int) -> int:
    if cfg.max_steps:
        return cfg.max_steps
    from zqvl.train.loader import count_samples

    per_step = cfg.batch_size * cfg.grad_accum * world_size
    return max(1, math.ceil(cfg.epochs * count_samples(cfg.shards) / per_step))

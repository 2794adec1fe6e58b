"""Run telemetry: per-step metrics (metrics.jsonl + tensorboard), throughput, loader wait, MFU, summary table.

Only rank 0 writes files or prints; every rank computes the same aggregated numbers.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

# Dense bf16 peak FLOP/s per GPU, by a substring of torch.cuda.get_device_name().
PEAK_BF16 = {
    "H200": 989e12,
    "H100": 989e12,
    "H800": 989e12,
    "A100": 312e12,
    "A800": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10": 125e12,
    "RTX 4090": 165e12,
    "RTX 3090": 71e12,
    "V100": 125e12,
}


def peak_flops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, value in PEAK_BF16.items():
        if key in name:
            return value
    return None


@dataclass
class FlopModel:
    """Training FLOPs per step, counting the work that is really done: a forward costs 2 FLOPs per weight per token
    (+ 4·layers·hidden per query-key pair of each sample's own attention, `attended`; padding is not work), and
    the LM head runs on supervised positions only (model/loss.py). A backward costs one forward for activation
    gradients (wherever a gradient must flow through) and one more for weight gradients of trained weights. The
    projector learns in every stage, so the LLM always back-propagates activations; a frozen vision tower runs
    forward only. Recomputation (activation checkpointing) is not counted, as MFU conventionally does not."""

    llm_params: int  # LLM parameters without the embedding table and the LM head
    head_params: int  # the LM head (the tied embedding when tied)
    llm_layers: int
    llm_hidden: int
    llm_trainable: bool  # full weight gradients (LoRA's are negligible)
    projector_params: int
    image_tokens: int  # projector outputs per image
    vision_params: int
    vision_patches: int  # tokens the tower processes per image
    vision_trainable: bool

    def per_step(self, tokens: int, attended: int, images: int, supervised: int) -> float:
        llm_fwd = 2 * self.llm_params * tokens + 4 * self.llm_layers * self.llm_hidden * attended
        llm_fwd += 2 * self.head_params * supervised
        projector_fwd = 2 * self.projector_params * self.image_tokens * images
        vision_fwd = 2 * self.vision_params * self.vision_patches * images
        return float(
            llm_fwd * (3 if self.llm_trainable else 2)
            + 3 * projector_fwd
            + vision_fwd * (3 if self.vision_trainable else 1)
        )


def flop_model(model: torch.nn.Module, parts) -> FlopModel:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    text = base.config.text_config
    lm = base.language_model
    embed = lm.get_input_embeddings().weight
    head = lm.get_output_embeddings().weight
    # the embedding lookup is free; the LM head is a real matmul, but only on supervised positions
    llm = sum(p.numel() for p in lm.parameters()) - embed.numel() - (0 if head is embed else head.numel())
    vcfg = base.config.vision_config
    size, patch = getattr(vcfg, "image_size", 0), getattr(vcfg, "patch_size", 0)
    patches = (size // patch) ** 2 if size and patch else base.config.num_image_tokens
    return FlopModel(
        llm_params=llm,
        head_params=head.numel(),
        llm_layers=text.num_hidden_layers,
        llm_hidden=text.hidden_size,
        llm_trainable=parts.by_part.get("llm", (0, 0))[0] > 0,
        projector_params=sum(p.numel() for p in base.projector.parameters()),
        image_tokens=base.config.num_image_tokens,
        vision_params=sum(p.numel() for p in base.vision_tower.parameters()),
        vision_patches=patches,
        vision_trainable=parts.by_part.get("vision", (0, 0))[0] > 0,
    )


def peak_memory_gb() -> float:
    """GPU: the most this process's tensors held on its device; CPU: the process's peak resident memory."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


@dataclass
class Meter:
    """Counters since the run (or resumed run) started, plus the last window for the progress bar."""

    start: float = field(default_factory=time.perf_counter)
    wait: float = 0.0
    samples: int = 0
    tokens: int = 0
    padded: int = 0
    supervised: int = 0
    images: int = 0
    flops: float = 0.0
    steps: int = 0
    losses: list[float] = field(default_factory=list)
    window: list[tuple[float, int, int, float]] = field(default_factory=list)  # (time, samples, tokens, wait)
    end: float | None = None

    def stop(self) -> None:
        """Freeze the clock (the final save is not training time)."""
        self.end = time.perf_counter()

    def elapsed(self) -> float:
        return max((self.end or time.perf_counter()) - self.start, 1e-9)

    def add_step(
        self,
        samples: int,
        tokens: int,
        padded: int,
        supervised: int,
        images: int,
        wait: float,
        flops: float,
        loss: float,
    ) -> None:
        self.steps += 1
        self.samples += samples
        self.tokens += tokens
        self.padded += padded
        self.supervised += supervised
        self.images += images
        self.wait += wait
        self.flops += flops
        self.losses.append(loss)
        self.window.append((time.perf_counter(), samples, tokens, wait))
        self.window = self.window[-20:]

    def rates(self) -> dict[str, float]:
        """samples/s, tokens/s and loader wait share over the recent window (whole run if short)."""
        if len(self.window) >= 2:
            span = self.window[-1][0] - self.window[0][0]
            rows = self.window[1:]
        else:
            span, rows = self.elapsed(), self.window
        span = max(span, 1e-9)
        return {
            "samples_s": sum(r[1] for r in rows) / span,
            "tokens_s": sum(r[2] for r in rows) / span,
            "wait": min(1.0, sum(r[3] for r in rows) / span),
        }


class Telemetry:
    def __init__(
        self, run_dir: Path, rank: int, resume_step: int, tensorboard: bool, peak: float | None, world_size: int
    ):
        self.rank = rank
        self.metrics_path = run_dir / "metrics.jsonl"
        self.peak = peak * world_size if peak else None
        self.meter = Meter()
        self.tb = None
        if rank != 0:
            return
        _truncate_metrics(self.metrics_path, resume_step)
        self.metrics = open(self.metrics_path, "a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step + 1 if resume_step else None)

    def mfu(self, step_flops: float, step_time: float) -> float | None:
        if not self.peak or step_time <= 0:
            return None
        return step_flops / step_time / self.peak

    def log(self, step: int, values: dict) -> None:
        if self.rank != 0:
            return
        self.metrics.write(json.dumps({"step": step, **values}) + "\n")
        self.metrics.flush()
        if self.tb is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.tb.add_scalar(f"train/{key}", value, step)

    def log_val(self, step: int, loss: float) -> None:
        """The val loss as its own metrics.jsonl line ({"step", "val_loss"}) and tensorboard's val/loss."""
        if self.rank != 0:
            return
        self.metrics.write(json.dumps({"step": step, "val_loss": loss}) + "\n")
        self.metrics.flush()
        if self.tb is not None and math.isfinite(loss):
            self.tb.add_scalar("val/loss", loss, step)

    def close(self) -> None:
        if self.rank == 0:
            self.metrics.close()
            if self.tb is not None:
                self.tb.close()


def _truncate_metrics(path: Path, keep_through_step: int) -> None:
    """On resume, drop lines for steps after the checkpoint (a hard kill may have logged some) atomically."""
    if not path.exists():
        return
    lines = []
    for ln in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(ln)["step"] <= keep_through_step:
                lines.append(ln)
        except (ValueError, KeyError, TypeError):
            continue  # a line half-written when the process was killed
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    tmp.replace(path)


def fmt_rate(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"

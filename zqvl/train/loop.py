"""The DeepSpeed training loop: model + data + engine setup, steps, checkpoints, final HF model, summary.

One code path for every launch: `zqvl-train` alone (one process, gloo on CPU), `torchrun`/`deepspeed` with
several processes, GPUs (bf16) or CPU (fp32). Every rank runs the same number of steps, and every decision
to stop (a signal, a NaN loss) is agreed through the one all-reduce each micro-batch does anyway, so ranks
never wait on each other forever.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch

from zqvl.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from zqvl.progress import open_progress
from zqvl.train import checkpoint
from zqvl.train.config import TrainConfig
from zqvl.train.engine import Schedule, StopFlag, deepspeed_config, optimizer_groups, resolve_precision, total_steps
from zqvl.train.telemetry import Telemetry, flop_model, fmt_rate, peak_flops, peak_memory_gb

EXIT_NAN, EXIT_SIGNAL = 3, 130
# one all-reduce per micro-batch carries these, summed over ranks
FIELDS = ("nonfinite", "stop", "loss", "samples", "tokens", "padded", "supervised", "images", "split", "attended")


@dataclass
class Outcome:
    code: int
    step: int
    message: str
    summary: dict = field(default_factory=dict)


def setup_distributed() -> int:
    """Join the process group (gloo on CPU, nccl on GPU); returns this rank after a barrier."""
    import deepspeed
    import torch.distributed as dist

    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if not dist.is_initialized():
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo", verbose=False)
    dist.barrier()
    return dist.get_rank()


def train(cfg: TrainConfig, resume: bool) -> Outcome:
    import torch.distributed as dist

    setup_distributed()
    trainer = Trainer(cfg, dist.get_rank(), dist.get_world_size(), resolve_precision(cfg))
    try:
        return trainer.run(resume)
    finally:
        trainer.close()


class Trainer:
    def __init__(self, cfg: TrainConfig, rank: int, world_size: int, precision: str):
        self.cfg, self.rank, self.world, self.precision = cfg, rank, world_size, precision
        self.run_dir = Path(cfg.out)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.telemetry: Telemetry | None = None
        self.saved: list[str] = []
        self.val_losses: list[list] = []  # [step, loss] measured by this process's run

    # -- setup -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        import deepspeed
        from transformers.utils import logging as hf_logging

        from zqvl.data.shards.reader import ShardStream, SkipSample
        from zqvl.model.build import load_model
        from zqvl.train.accel import apply_liger, resolve_attention
        from zqvl.train.collate import SampleBuilder, collate
        from zqvl.train.loader import TrainLoader, resolve_shards
        from zqvl.train.mix import MixedLoader, parse_sources
        from zqvl.train.packing import collate_packed
        from zqvl.train.parts import apply_train_type, enable_gradient_checkpointing

        hf_logging.disable_progress_bar()  # our own bar is the one to watch
        cfg = self.cfg
        torch.manual_seed(cfg.seed)  # identical LoRA init on every rank
        model, self.processor = load_model(cfg.model)
        attention = resolve_attention(cfg.attention, packing=cfg.packing)
        model.language_model.set_attn_implementation(attention)
        if cfg.liger:
            apply_liger(model.language_model)
        if any(p.dtype != torch.float32 for p in model.parameters()):
            model = model.float()  # a bf16 checkpoint: DeepSpeed keeps fp32 masters / trains fp32 on CPU
        if torch.cuda.is_available():
            model = model.cuda()  # the (fused) optimizer is created on the training device
        model, self.parts = apply_train_type(
            model,
            cfg.train_type,
            lora_r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            lora_targets=cfg.lora_targets,
        )
        if cfg.grad_checkpointing:
            enable_gradient_checkpointing(model)
        self.flop_model = flop_model(model, self.parts)
        self.steps = total_steps(cfg, self.world)
        schedule = Schedule(cfg.schedule, round(cfg.warmup_ratio * self.steps), self.steps, cfg.min_lr_ratio)
        optimizer = torch.optim.AdamW(
            optimizer_groups(model, cfg.weight_decay),
            lr=cfg.lr,
            betas=(cfg.adam_beta1, cfg.adam_beta2),
            eps=1e-8,
            fused=torch.cuda.is_available(),
        )
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model,
            optimizer=optimizer,
            config=deepspeed_config(cfg, self.precision),
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, schedule),
        )
        torch.manual_seed(cfg.seed + self.rank)  # dropout differs across ranks
        filters = []
        if cfg.filters:  # the same record -> [reasons] checks `zqvl-data clean` runs; "all" = every enabled one
            from zqvl.data.clean import load_filters

            try:
                filters = load_filters(names=None if cfg.filters == ["all"] else cfg.filters)
            except ValueError as e:
                raise UsageError(f"--filters: {e}") from None
        builder = SampleBuilder(self.processor, cfg.max_len, cfg.system_prompt or None, skip=SkipSample)
        pad = self.processor.tokenizer.pad_token_id

        def loader_for(patterns: list[str], seed: int) -> TrainLoader:
            stream = ShardStream(
                resolve_shards(patterns),
                seed=seed,
                shuffle_buffer=cfg.shuffle_buffer,
                transform=builder,
                filters=filters,
                rank=self.rank,
                world_size=self.world,
            )
            return TrainLoader(
                stream,
                batch_size=cfg.batch_size,
                group_batches=cfg.group_batches,
                num_workers=cfg.num_workers,
                collate_fn=partial(collate_packed, pad_id=pad, flat=attention == "flash_attention_2")
                if cfg.packing
                else partial(collate, pad_id=pad),
                pack_len=cfg.max_len if cfg.packing else 0,
            )

        sources = parse_sources(cfg.shards)
        if sources is None:
            self.batches = loader_for(cfg.shards, cfg.seed)
        else:  # each source shuffles with its own seed: equal seeds would shuffle same-sized sources alike
            self.batches = MixedLoader(sources, [loader_for([s.pattern], cfg.seed + i) for i, s in enumerate(sources)])
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision, torch.float32)
        self.validation = self._validation(cfg)

    def _validation(self, cfg: TrainConfig):
        """The val set when one exists and --eval-every is not 0 (built once; every rank measures all of it)."""
        from zqvl.train.loader import resolve_shards
        from zqvl.train.validation import Validation, val_split_urls

        if cfg.eval_every == 0:
            return None
        urls = resolve_shards(cfg.eval_shards) if cfg.eval_shards else val_split_urls(cfg.shards)
        return Validation.build(
            urls, self.processor, cfg.max_len, cfg.system_prompt or None, cfg.batch_size, cfg.eval_max_records
        )

    def _eval_due(self, step: int) -> bool:
        every = self.cfg.eval_every if self.cfg.eval_every > 0 else self.cfg.save_every
        return self.validation is not None and (step == self.steps or bool(every and step % every == 0))

    def _measure_val(self, step: int) -> None:
        loss = self.validation.loss(self.engine, self.engine.device, self.dtype)
        self.val_losses.append([step, loss])
        self.telemetry.log_val(step, loss)

    def _restore(self, resume: bool) -> tuple[int, dict]:
        tag = checkpoint.latest(self.ckpt_dir) if resume else None
        if tag is None:
            if resume and self.rank == 0:
                print(
                    f"warning: {self.ckpt_dir}: no complete checkpoint yet; starting {self.run_dir} from step 0",
                    file=sys.stderr,
                )
            return 0, {}
        rank_state, shared = checkpoint.load(self.engine, self.ckpt_dir, tag)
        self.batches.load_state_dict(rank_state["data"])
        return int(shared["step"]), shared.get("totals", {})

    # -- the loop ----------------------------------------------------------------------------------------------
    def run(self, resume: bool) -> Outcome:
        import torch.distributed as dist

        self._build()
        start, totals = self._restore(resume)
        if start >= self.steps:
            raise UsageError(
                f"{self.run_dir}: checkpoint is at step {start}, nothing left of {self.steps} steps "
                "(raise --max-steps to train further)"
            )
        self.totals = Counter(totals)
        self.telemetry = Telemetry(self.run_dir, self.rank, start, self.cfg.tensorboard, peak_flops(), self.world)
        device = self.engine.device
        step, code, message = start, EXIT_OK, ""
        fields = ["loss", "lr", "samples_s", "tokens_s", "wait"] + (["mfu"] if self.telemetry.peak else [])
        with (
            StopFlag() as stop,
            open_progress(f"stage {self.cfg.stage}", self.steps, *fields, enabled=self.rank == 0) as progress,
        ):
            progress.update(start)
            while step < self.steps:
                at_step_start = self.batches.state_dict()
                t0, wait = time.perf_counter(), 0.0
                sums = torch.zeros(len(FIELDS), dtype=torch.float64)
                seen = hashlib.sha1()
                lr = self.optimizer.param_groups[0]["lr"]
                for _ in range(self.cfg.grad_accum):
                    tw = time.perf_counter()
                    batch = next(self.batches)
                    wait += time.perf_counter() - tw
                    seen.update("\n".join(batch["ids"]).encode())
                    loss = self.engine(**self._inputs(batch, device), use_cache=False).loss
                    local = torch.tensor(
                        [
                            not math.isfinite(loss.item()),
                            stop.signum is not None,
                            loss.item(),
                            len(batch["ids"]),
                            batch["tokens"],
                            batch["padded"],
                            batch["supervised"],
                            batch["images"],
                            batch["split"],
                            batch["attended"],
                        ],
                        dtype=torch.float64,
                    )
                    agreed = local.to(device)
                    dist.all_reduce(agreed)
                    agreed = agreed.cpu()
                    if agreed[0] > 0 or agreed[1] > 0:
                        code, message = self._interrupt(step, at_step_start, agreed, loss, batch, stop.signum)
                        break
                    self.engine.backward(loss)
                    self.engine.step()
                    sums += agreed
                if code:
                    break
                step += 1
                self._after_step(step, sums, lr, time.perf_counter() - t0, wait, seen.hexdigest()[:12], progress)
                if step == 1:  # a fresh run: did the filters or damage drop most of what was read?
                    code, message = self._drop_guard()
                    if code:
                        break
                if self._eval_due(step):
                    self._measure_val(step)
                if self.cfg.save_every and step % self.cfg.save_every == 0 and step < self.steps:
                    self._save(step)
        self.telemetry.meter.stop()
        if code == EXIT_OK:
            path = self._save_final()
            message = f"stage {self.cfg.stage} finished: {step} steps; model saved to {path}"
        return Outcome(code, step, message, self._summary(start, step, code))

    def _inputs(self, batch: dict, device) -> dict:
        # packed batches carry position_ids and no attention_mask (zqvl/train/packing.py)
        keys = ("input_ids", "attention_mask", "position_ids", "labels", "pixel_values")
        cuda = torch.device(device).type == "cuda"
        inputs = {}
        for key in keys:
            value = batch.get(key)
            if value is None:
                continue
            if cuda:  # page-locked, so the copy is non-blocking and the host goes on queuing work
                value = value.pin_memory()
            dtype = self.dtype if key == "pixel_values" else None
            inputs[key] = value.to(device, dtype, non_blocking=cuda)
        return inputs

    def _after_step(self, step, sums, lr, step_time, wait, data_hash, progress) -> None:
        s = dict(zip(FIELDS, sums.tolist()))
        loss = s["loss"] / (self.cfg.grad_accum * self.world)
        flops = self.flop_model.per_step(int(s["tokens"]), int(s["attended"]), int(s["images"]), int(s["supervised"]))
        meter = self.telemetry.meter
        meter.add_step(
            int(s["samples"]),
            int(s["tokens"]),
            int(s["padded"]),
            int(s["supervised"]),
            int(s["images"]),
            wait,
            flops,
            loss,
        )
        self.totals.update({"samples": int(s["samples"]), "tokens": int(s["tokens"]), "split": int(s["split"])})
        rates = meter.rates()
        mfu = self.telemetry.mfu(flops, step_time)
        grad_norm = self.engine.get_global_grad_norm()
        values = {
            "loss": loss,
            "lr": lr,
            "grad_norm": float(grad_norm) if grad_norm is not None else None,
            "samples": int(s["samples"]),
            "tokens": int(s["tokens"]),
            "padding": 1 - s["tokens"] / max(1.0, s["padded"]),
            "step_time": step_time,
            "loader_wait": wait / max(step_time, 1e-9),
            "samples_s": rates["samples_s"],
            "tokens_s": rates["tokens_s"],
            "data": data_hash,
        }  # data: which records (rank 0's)
        if mfu is not None:
            values["mfu"] = mfu
        if step % self.cfg.log_every == 0 or step == self.steps:
            self.telemetry.log(step, values)
        shown = {
            "loss": f"{loss:.4f}",
            "lr": f"{lr:.2e}",
            "samples_s": fmt_rate(rates["samples_s"]),
            "tokens_s": fmt_rate(rates["tokens_s"]),
            "wait": f"{rates['wait']:.0%}",
        }
        if mfu is not None:
            shown["mfu"] = f"{mfu:.1%}"
        progress.update(step, **shown)

    def _interrupt(self, step, at_step_start, agreed, loss, batch, signum) -> tuple[int, str]:
        """Save the state after the last finished step (this step's partial gradients are discarded)."""
        path = self._save(step, data_state=at_step_start)
        if agreed[0] > 0:
            where = f"ids {', '.join(batch['ids'][:8])}" if not math.isfinite(loss.item()) else "another rank"
            return EXIT_NAN, (
                f"loss is {loss.item()} at step {step + 1} (batch {where}); stopped with a "
                f"checkpoint of step {step} in {path}. Check those records and --resume (the same settings: "
                "--resume never changes --lr), or start a new run with a lower --lr"
            )
        name = {2: "SIGINT", 15: "SIGTERM"}.get(signum or 0, "a signal")
        return EXIT_SIGNAL, (
            f"stopped by {name if signum else 'a signal on another rank'} after step {step}; "
            f"checkpoint {path}; continue with --resume"
        )

    # -- saving ----------------------------------------------------------------------------------------------
    def _save(self, step: int, data_state: dict | None = None) -> Path:
        tag = checkpoint.tag_of(step)
        if checkpoint.latest(self.ckpt_dir) == tag:
            return self.ckpt_dir / tag
        path = checkpoint.save(
            self.engine,
            self.ckpt_dir,
            step,
            rank_state={"data": data_state or self.batches.state_dict()},
            shared_state={"step": step, "totals": dict(self.totals)},
            keep_last=self.cfg.keep_last,
        )
        self.saved.append(tag)
        return path

    def _save_final(self) -> Path:
        """RUN/final: a plain HF model dir (LoRA merged) + tokenizer + processor, written under a temp name."""
        import deepspeed
        import torch.distributed as dist

        from zqvl.train.export import save_model_dir

        final, tmp = self.run_dir / "final", self.run_dir / ".final.tmp"
        module = self.engine.module
        gather = (
            deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=None)
            if self.cfg.zero_stage == 3
            else _null()
        )
        with gather:
            if self.rank == 0:
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
                meta = {
                    "stage": self.cfg.stage,
                    "train_type": self.cfg.train_type,
                    "steps": self.steps,
                    "precision": self.precision,
                    "from_model": self.cfg.model,
                }
                save_model_dir(module, self.processor, tmp, meta)
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp, final)
        dist.barrier()
        return final

    def _drop_guard(self) -> tuple[int, str]:
        """The drop guard of the data commands, on the windows every rank has read for the first step: exit 1
        before hours are spent training on the few records that --filters or damaged shards left."""
        import torch.distributed as dist

        from zqvl.data.dropguard import Drops

        mine = (self.batches.read, self.batches.stats()["dropped"])
        every: list = [None] * self.world
        dist.all_gather_object(every, mine)
        reasons = Counter()
        for _, dropped in every:
            reasons.update(dropped)
        read = sum(n for n, _ in every)
        level, line = Drops("train", read + sum(reasons.values()), reasons).verdict(self.cfg.max_drop)
        if level == "fail":
            return EXIT_FINDINGS, f"{line}; stopped after step 1 (counted over the first records read)"
        if level == "warn" and self.rank == 0:
            print(f"warning: {line} (counted over the first records read)", file=sys.stderr)
        return EXIT_OK, ""

    # -- summary -----------------------------------------------------------------------------------------------
    def _summary(self, start: int, step: int, code: int) -> dict:
        import torch.distributed as dist

        from zqvl.train.mix import merge_mix

        stats = self.batches.stats()
        every: list = [None] * self.world
        dist.all_gather_object(every, (stats["dropped"], stats.get("sources")))
        drops = Counter()
        for d, _ in every:
            drops.update(d or {})
        m = self.telemetry.meter
        elapsed = m.elapsed()
        first = sum(m.losses[:5]) / max(1, len(m.losses[:5])) if m.losses else float("nan")
        last = sum(m.losses[-5:]) / max(1, len(m.losses[-5:])) if m.losses else float("nan")
        return {
            "stage": self.cfg.stage,
            "train_type": self.cfg.train_type,
            "precision": self.precision,
            "processes": self.world,
            "zero_stage": self.cfg.zero_stage,
            "steps": step,
            "steps_this_run": step - start,
            "total_steps": self.steps,
            "resumed_from": start,
            "samples": m.samples,
            "tokens": m.tokens,
            "supervised_tokens": m.supervised,
            "padding": 1 - m.tokens / max(1, m.padded),
            "loss_first": first,
            "loss_last": last,
            "seconds": elapsed,
            "samples_s": m.samples / elapsed,
            "tokens_s": m.tokens / elapsed,
            "loader_wait": m.wait / elapsed,
            "mfu": (m.flops / elapsed / self.telemetry.peak) if self.telemetry.peak else None,
            "peak_memory_gb": peak_memory_gb(),
            "trainable": {k: list(v) for k, v in self.parts.by_part.items()},
            "records_split": int(self.totals.get("split", 0)),
            "dropped": dict(sorted(drops.items())),
            "mix": merge_mix([sources for _, sources in every]),
            "checkpoints": self.saved,
            "exit": code,
            "val_loss": self.val_losses[-1][1] if self.val_losses else None,
            "val_losses": self.val_losses,
        }

    def close(self) -> None:
        if self.telemetry is not None:
            self.telemetry.close()
        if hasattr(self, "batches"):
            self.batches.close()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

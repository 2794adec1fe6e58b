"""The resolved training configuration: defaults <- stage preset <- --config YAML <- command-line flags.

Every field is a flag (`lr` -> `--lr`, `warmup_ratio` -> `--warmup-ratio`), so any preset value can be
overridden; the resolved config is written to RUN/config.yaml and read back on --resume.
"""
from __future__ import annotations

import argparse
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from zqvl.data.template import DEFAULT_SYSTEM
from zqvl.train.presets import lora_targets, stage_preset, train_types
from zqvl.errors import UsageError, unknown_keys_message
from zqvl.yamlfile import read_mapping

SCHEDULES = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass
class TrainConfig:
    stage: int = 2
    model: str = ""                      # HF-style dir from `zqvl-model build` or a previous stage's final/
    shards: list[str] = field(default_factory=list)   # shard dirs (zqvl-data shard output), .tar files or globs
    out: str = ""                        # run dir: config.yaml, metrics.jsonl, tb/, checkpoints/, final/
    train_type: str = "freeze_vision"    # projector | freeze_vision | lora | full
    lr: float = 2e-5
    min_lr_ratio: float = 0.0            # the schedule decays to lr * min_lr_ratio
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    warmup_ratio: float = 0.03
    schedule: str = "cosine"             # cosine | linear | constant (all after linear warmup)
    batch_size: int = 4                  # micro-batch per process
    grad_accum: int = 1
    max_steps: int = 0                   # optimizer steps; 0 = derive from --epochs and the shard manifest
    epochs: float = 1.0
    max_len: int = 2048                  # tokens incl. image tokens; longer chats are split at turn boundaries
    grad_clip: float = 1.0
    zero_stage: int = 2
    precision: str = "auto"              # auto = bf16 on GPU, fp32 on CPU
    grad_checkpointing: bool = False
    save_every: int = 500                # steps between checkpoints (0 = only on signal / end)
    keep_last: int = 2                   # checkpoints kept
    log_every: int = 1
    seed: int = 42
    num_workers: int = 2
    shuffle_buffer: int = 1000
    group_batches: int = 16              # length-grouping window, in micro-batches
    system_prompt: str = DEFAULT_SYSTEM
    filters: list[str] = field(default_factory=list)  # on-the-fly zqvl.data.clean filters by name, or "all"
    lora_r: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=lora_targets)
    tensorboard: bool = True

    @property
    def run_dir(self) -> Path:
        return Path(self.out)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: Path) -> None:
        from zqvl.data.io import atomic_open
        with atomic_open(path, "w") as fh:
            yaml.safe_dump(self.to_dict(), fh, allow_unicode=True, sort_keys=False)


FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig)}
CLI_ONLY = {"stage", "model", "shards", "out"}   # the CLI's own required arguments, not preset values


def _field_kind(name: str):
    hints = typing.get_type_hints(TrainConfig)
    return hints[name]


def _coerce(name: str, value):
    kind = _field_kind(name)
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind in (int, float, str):
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return kind(value)
        if typing.get_origin(kind) is list:
            if isinstance(value, str):
                value = [v for v in value.split(",") if v]
            return [str(v) for v in value]
    except (TypeError, ValueError):
        raise UsageError(f"config value {name}={value!r} is not a valid {getattr(kind, '__name__', kind)}") from None
    return value


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per config field; defaults are None so only flags the user gives override."""
    group = parser.add_argument_group("training options (override the stage preset and --config)")
    for f in fields(TrainConfig):
        if f.name in CLI_ONLY:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = _field_kind(f.name)
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        elif typing.get_origin(kind) is list:
            group.add_argument(flag, dest=f.name, nargs="*", default=None, metavar="X")
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=None, metavar=kind.__name__.upper())


def load_yaml_overrides(path: str | Path) -> dict:
    data = read_mapping(path)
    unknown = sorted(set(data) - set(FIELD_TYPES))
    if unknown:
        raise UsageError(unknown_keys_message(str(path), unknown, FIELD_TYPES))
    return data


def resolve(stage: int, file_overrides: dict | None = None, cli_overrides: dict | None = None) -> TrainConfig:
    """defaults <- preset of `stage` <- file <- CLI (None values in cli_overrides mean 'not given')."""
    values: dict = {"stage": stage}
    values.update(stage_preset(stage))
    values.update(file_overrides or {})
    values.update({k: v for k, v in (cli_overrides or {}).items() if v is not None})
    values["stage"] = stage
    unknown = sorted(set(values) - set(FIELD_TYPES))
    if unknown:
        raise UsageError(unknown_keys_message("config", unknown, FIELD_TYPES))
    cfg = TrainConfig(**{k: _coerce(k, v) for k, v in values.items()})
    validate(cfg)
    return cfg


def from_saved(path: Path) -> TrainConfig:
    data = load_yaml_overrides(path)
    return TrainConfig(**{k: _coerce(k, v) for k, v in data.items()})


def validate(cfg: TrainConfig) -> None:
    def need(cond: bool, message: str) -> None:
        if not cond:
            raise UsageError(message)

    need(cfg.train_type in train_types(), f"--train-type {cfg.train_type!r}: choose one of {', '.join(train_types())}")
    need(cfg.schedule in SCHEDULES, f"--schedule {cfg.schedule!r}: choose one of {', '.join(SCHEDULES)}")
    need(cfg.precision in PRECISIONS, f"--precision {cfg.precision!r}: choose one of {', '.join(PRECISIONS)}")
    need(cfg.zero_stage in (0, 1, 2, 3), f"--zero-stage {cfg.zero_stage}: choose 0, 1, 2 or 3")
    need(cfg.lr > 0, "--lr must be > 0")
    need(0 <= cfg.min_lr_ratio <= 1, "--min-lr-ratio must be in [0, 1]")
    need(0 <= cfg.warmup_ratio < 1, "--warmup-ratio must be in [0, 1)")
    for name in ("batch_size", "grad_accum", "max_len", "group_batches", "log_every"):
        need(getattr(cfg, name) >= 1, f"--{name.replace('_', '-')} must be >= 1")
    for name in ("max_steps", "save_every", "num_workers", "shuffle_buffer", "grad_clip", "keep_last"):
        need(getattr(cfg, name) >= 0, f"--{name.replace('_', '-')} must be >= 0")
    need(cfg.keep_last >= 1, "--keep-last must be >= 1 (the newest checkpoint is what --resume needs)")
    need(cfg.max_steps > 0 or cfg.epochs > 0, "give --max-steps or --epochs > 0")
    need(not cfg.lora_targets or all(t.isidentifier() for t in cfg.lora_targets),
         f"--lora-targets must be module leaf names (e.g. q_proj), got {cfg.lora_targets}")

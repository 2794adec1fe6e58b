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
from zqvl.errors import UsageError, unknown_keys_message
from zqvl.train.presets import lora_targets, stage_preset, train_types
from zqvl.yamlfile import read_mapping


def option(default, help: str, choices: tuple | None = None, factory=None):
    """A config field with its --help text (and allowed values): the one place an option is described."""
    meta = {"help": help, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    stage: int = option(2, "1 align (projector), 2 instruct, 3 instruct on cleaned Chinese data")
    model: str = option("", "HF-style dir from `zqvl-model build` or a previous stage's RUN/final")
    shards: list[str] = option(
        None,
        "shard dirs (zqvl-data shard output), .tar files or globs; DIR:WEIGHT mixes sources by weight "
        "(micro-batches drawn in that ratio, each source its own epochs; unweighted entries weigh 1)",
        factory=list,
    )
    out: str = option("", "run dir: config.yaml, metrics.jsonl, tb/, checkpoints/, final/")
    train_type: str = option(
        "freeze_vision",
        "what learns (see zqvl/train/presets.yaml)",
        choices=("projector", "freeze_vision", "lora", "full"),
    )
    lr: float = option(2e-5, "peak learning rate")
    min_lr_ratio: float = option(0.0, "the schedule decays to lr * this")
    weight_decay: float = option(0.0, "AdamW weight decay")
    adam_beta1: float = option(0.9, "AdamW beta1")
    adam_beta2: float = option(0.999, "AdamW beta2")
    warmup_ratio: float = option(0.03, "share of the steps spent in linear warmup")
    schedule: str = option("cosine", "learning-rate schedule after warmup", choices=("cosine", "linear", "constant"))
    batch_size: int = option(4, "micro-batch per process")
    grad_accum: int = option(1, "micro-batches per optimizer step")
    max_steps: int = option(0, "optimizer steps; 0 = derive from --epochs and the shard manifest")
    epochs: float = option(1.0, "passes over the shards when --max-steps is 0")
    max_len: int = option(2048, "tokens per sample incl. image tokens; longer chats are split at turn boundaries")
    grad_clip: float = option(1.0, "gradient-norm clip (0 = off)")
    zero_stage: int = option(2, "DeepSpeed ZeRO stage", choices=(0, 1, 2, 3))
    precision: str = option("auto", "auto = bf16 on GPU, fp32 on CPU", choices=("auto", "bf16", "fp16", "fp32"))
    grad_checkpointing: bool = option(False, "recompute activations in backward (less memory, ~30%% slower)")
    attention: str = option(
        "auto",
        "the LLM's attention kernel; auto = flash_attention_2 on a GPU when flash_attn is installed, else sdpa",
        choices=("auto", "sdpa", "flash_attention_2", "eager"),
    )
    liger: bool = option(False, "liger-kernel's fused RMSNorm/RoPE/SwiGLU for the Qwen2 LLM (GPU, zqvl[gpu])")
    save_every: int = option(500, "steps between checkpoints (0 = only on a signal and at the end)")
    keep_last: int = option(2, "complete checkpoints kept")
    log_every: int = option(1, "steps between metrics.jsonl/tensorboard records")
    eval_every: int = option(
        -1,
        "steps between val-loss measurements on the val split (-1: every --save-every "
        "steps and at the end, when there is a val split; 0: never)",
    )
    eval_shards: list[str] = option(None, "shards for the val loss (default: the val split of --shards)", factory=list)
    eval_max_records: int = option(256, "records of the val split measured each time")
    seed: int = option(42, "seed for data order and initialisation")
    num_workers: int = option(2, "DataLoader workers per process (part of the resume state)")
    shuffle_buffer: int = option(1000, "samples in each worker's shuffle buffer")
    group_batches: int = option(16, "length-grouping (or packing) window, in micro-batches")
    packing: bool = option(
        False,
        "fill each row up to --max-len with several samples (attention stays inside each sample); "
        "--batch-size then counts rows",
    )
    system_prompt: str = option(DEFAULT_SYSTEM, "system prompt of every sample without its own")
    filters: list[str] = option(
        None, "zqvl.data.clean filters applied on the fly, by family name, or 'all'", factory=list
    )
    max_drop: float = option(
        0.5, "stop (exit 1) when the first windows read show more than this share of records dropped"
    )
    lora_r: int = option(64, "LoRA rank")
    lora_alpha: int = option(16, "LoRA alpha")
    lora_dropout: float = option(0.05, "LoRA dropout")
    lora_targets: list[str] = option(None, "LoRA target leaf names, matched only inside the LLM", factory=lora_targets)
    tensorboard: bool = option(True, "write tensorboard events to RUN/tb")

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
SCHEDULES = TrainConfig.__dataclass_fields__["schedule"].metadata["choices"]
PRECISIONS = TrainConfig.__dataclass_fields__["precision"].metadata["choices"]
ATTENTIONS = TrainConfig.__dataclass_fields__["attention"].metadata["choices"]
CLI_ONLY = {"stage", "model", "shards", "out"}  # the CLI's own required arguments, not preset values


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


def _preset_note(name: str) -> str:
    """'stage 1: 0.001, stages 2-3: 2e-05' when the stage presets set this option, else ''."""
    from zqvl.train.presets import stages

    by_value: dict = {}
    for number, preset in sorted(stages().items()):
        if name in preset:
            by_value.setdefault(preset[name], []).append(str(number))
    if not by_value:
        return ""

    def span(numbers: list[str]) -> str:
        ints = list(map(int, numbers))
        if len(ints) == 1:
            return f"stage {ints[0]}"
        consecutive = ints == list(range(ints[0], ints[-1] + 1))
        return f"stages {ints[0]}-{ints[-1]}" if consecutive else "stages " + ",".join(numbers)

    parts = [f"{span(n)}: {v}" for v, n in by_value.items()]
    return "; preset " + ", ".join(parts)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, its help from the field; defaults are None so only given flags override."""
    group = parser.add_argument_group("training options (override the stage preset, then --config)")
    for f in fields(TrainConfig):
        if f.name in CLI_ONLY:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = _field_kind(f.name)
        default = f.default_factory() if callable(f.default_factory) else f.default
        choices = f.metadata.get("choices")
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        text = (
            (
                f"{f.metadata['help']} (default {shown!r}"
                if isinstance(shown, str) and shown
                else f"{f.metadata['help']} (default {shown}"
            )
            + _preset_note(f.name)
            + ")"
        )
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif typing.get_origin(kind) is list:
            group.add_argument(flag, dest=f.name, nargs="*", default=None, metavar="X", help=text)
        else:
            group.add_argument(
                flag,
                dest=f.name,
                type=kind,
                default=None,
                choices=choices,
                help=text,
                metavar=None if choices else kind.__name__.upper(),
            )


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
    need(0.0 <= cfg.max_drop <= 1.0, "--max-drop must be a share in [0, 1]")
    need(cfg.keep_last >= 1, "--keep-last must be >= 1 (the newest checkpoint is what --resume needs)")
    need(cfg.max_steps > 0 or cfg.epochs > 0, "give --max-steps or --epochs > 0")
    need(
        not cfg.packing or cfg.max_steps > 0,
        "--packing needs --max-steps: a packed row holds as many samples as fit, so the steps of an epoch are "
        "not known up front (the summary's samples per step tells how many steps an epoch took)",
    )
    need(cfg.eval_every >= -1, "--eval-every must be -1 (with checkpoints), 0 (never) or a number of steps")
    need(cfg.eval_max_records >= 1, "--eval-max-records must be >= 1")
    need(
        not cfg.lora_targets or all(t.isidentifier() for t in cfg.lora_targets),
        f"--lora-targets must be module leaf names (e.g. q_proj), got {cfg.lora_targets}",
    )

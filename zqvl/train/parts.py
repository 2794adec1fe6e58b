"""Which parameters learn: freeze by part (vision / projector / llm) per train type, add LoRA to the LLM only."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zqvl.errors import UsageError
from zqvl.train.presets import trainable_parts


@dataclass
class TrainableReport:
    by_part: dict[str, tuple[int, int]]  # part -> (trainable params, total params)
    lora_modules: list[str]

    @property
    def trainable(self) -> int:
        return sum(t for t, _ in self.by_part.values())

    @property
    def total(self) -> int:
        return sum(n for _, n in self.by_part.values())


def _module_prefix(model: torch.nn.Module, child: torch.nn.Module) -> str:
    for name, module in model.named_modules():
        if module is child:
            return name
    raise ValueError("the language model is not a submodule of the model")


def lora_module_names(model: torch.nn.Module, targets: list[str]) -> list[str]:
    """Full names of Linear layers inside model.language_model whose leaf name is a target.

    Full names (not leaf patterns) go to PEFT, so a vision tower's q_proj/k_proj/v_proj can never match.
    """
    prefix = _module_prefix(model, model.language_model)
    names = [
        f"{prefix}.{name}"
        for name, module in model.language_model.named_modules()
        if name and name.rsplit(".", 1)[-1] in targets and isinstance(module, torch.nn.Linear)
    ]
    if not names:
        raise UsageError(f"--lora-targets {targets} match no linear layer of the language model")
    return names


def apply_train_type(
    model: torch.nn.Module,
    train_type: str,
    *,
    lora_r: int = 64,
    lora_alpha: int = 16,
    lora_dropout: float = 0.05,
    lora_targets: list[str] | None = None,
):
    """Freeze everything, then unfreeze the parts the train type trains. Returns (model, report);
    with LoRA the model comes back wrapped in a peft.PeftModel (merged back at save time)."""
    from zqvl.model.build import parameter_groups

    parts = trainable_parts(train_type)
    for p in model.parameters():
        p.requires_grad_(False)
    groups = parameter_groups(model)
    lora_names: list[str] = []
    if "llm_lora" in parts:
        from peft import LoraConfig, get_peft_model

        lora_names = lora_module_names(model, lora_targets or [])
        config = LoraConfig(
            r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=lora_names, bias="none"
        )
        model = get_peft_model(model, config)  # marks only the adapters trainable
    for part in ("vision", "projector", "llm"):
        if part in parts:
            for _, p in groups[part]:
                p.requires_grad_(True)
    report = TrainableReport(by_part={}, lora_modules=lora_names)
    seen = {id(p) for ps in groups.values() for _, p in ps}
    for part, named in groups.items():
        report.by_part[part] = (sum(p.numel() for _, p in named if p.requires_grad), sum(p.numel() for _, p in named))
    if lora_names:
        adapters = [p for n, p in model.named_parameters() if "lora_" in n and id(p) not in seen]
        report.by_part["llm_lora"] = (
            sum(p.numel() for p in adapters if p.requires_grad),
            sum(p.numel() for p in adapters),
        )
    return model, report


def unwrap_lora(model: torch.nn.Module) -> torch.nn.Module:
    """Merge LoRA adapters into the base weights and return the plain model (no-op without LoRA)."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def enable_gradient_checkpointing(model: torch.nn.Module) -> list[str]:
    """Turn on activation checkpointing in every part that supports it; returns the parts it applied to."""
    done = []
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    for part in ("vision_tower", "language_model"):
        module = getattr(base, part, None)
        if module is not None and getattr(module, "supports_gradient_checkpointing", False):
            # non-reentrant: works when the inputs (embeddings of a frozen table) do not require grad
            module.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            done.append(part)
    if not done:
        raise UsageError("--grad-checkpointing: no part of this model supports gradient checkpointing")
    return done

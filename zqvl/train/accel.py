"""The GPU path's switches: which attention kernel the LLM runs, and liger-kernel's fused Qwen2 kernels.

--attention auto is flash-attention 2 on a GPU with flash_attn installed (packed rows then run its varlen kernels,
from the position ids), SDPA otherwise (packed rows: one SDPA call per sample); --liger swaps Qwen2's RMSNorm,
RoPE and SwiGLU for liger-kernel's Triton kernels (zqvl[gpu]). The loss stays zqvl's own supervised-only one (model/loss.py): liger's fused linear
cross-entropy would run the LM head on every position again.
"""

from __future__ import annotations

import importlib.util

import torch

from zqvl.errors import UsageError
from zqvl.train.config import ATTENTIONS


def resolve_attention(choice: str, cuda: bool | None = None, packing: bool = False) -> str:
    """The attention implementation to set on the LLM. Packed rows without flash-attention run SDPA per sample
    (zqvl/model/attention.py) instead of one dense block-diagonal mask."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    has_flash = importlib.util.find_spec("flash_attn") is not None
    if choice == "auto":
        choice = "flash_attention_2" if cuda and has_flash else "sdpa"
    if choice == "sdpa" and packing:
        from zqvl.model.attention import PACKED_SDPA

        return PACKED_SDPA
    if choice == "flash_attention_2":
        if not cuda:
            raise UsageError("--attention flash_attention_2 needs a CUDA GPU; on CPU use sdpa (the default)")
        if not has_flash:
            raise UsageError("--attention flash_attention_2: flash_attn is not installed (pip install flash-attn)")
    if choice not in ATTENTIONS:
        raise UsageError(f"--attention {choice!r}: choose one of {', '.join(ATTENTIONS)}")
    return choice


def check_liger(cuda: bool | None = None) -> None:
    """A one-line error where --liger cannot run (checked before the run dir is written, and again at apply)."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if not cuda:
        raise UsageError("--liger needs a CUDA GPU (its kernels are Triton); leave it off on CPU")
    if importlib.util.find_spec("liger_kernel") is None:
        raise UsageError("--liger: liger-kernel is not installed (pip install 'zqvl[gpu]')")


def apply_liger(language_model: torch.nn.Module, cuda: bool | None = None) -> None:
    """liger-kernel's RMSNorm, RoPE and SwiGLU in this Qwen2 LM (in place); a one-line error where it cannot run."""
    check_liger(cuda)
    if getattr(language_model.config, "model_type", None) != "qwen2":
        raise UsageError(f"--liger patches Qwen2 LLMs; this one is {language_model.config.model_type!r}")
    from liger_kernel.transformers import apply_liger_kernel_to_qwen2

    apply_liger_kernel_to_qwen2(
        rope=True,
        rms_norm=True,
        swiglu=True,
        cross_entropy=False,
        fused_linear_cross_entropy=False,
        model=language_model,
    )

"""Cross-entropy on the supervised positions only, a chunk of rows at a time.

Qwen2's vocabulary has 151,936 entries; the plain path runs the LM head and the loss on every position (image
tokens, system prompt, questions) and keeps fp32 logits for the whole batch (~10 GB at 8 x 2,048). Only answer
tokens carry labels, so: gather the hidden states whose next-token label is not -100, then run head + loss over
them `chunk` rows at a time, recomputing each chunk's logits in backward (activation checkpointing), so at most
one chunk of logits exists at once. Same loss and gradients as the plain path: mean over supervised tokens, logits
upcast to fp32, as transformers' ForCausalLMLoss does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE = -100
DEFAULT_CHUNK = 4096


def _chunk_loss_sum(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    return F.cross_entropy(logits, targets, reduction="sum")


def supervised_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, cols) of the hidden states that predict a supervised token: position t predicts labels[t + 1]."""
    shifted = labels[:, 1:]
    rows, cols = (shifted != IGNORE).nonzero(as_tuple=True)
    return rows, cols


def supervised_cross_entropy(
    hidden: torch.Tensor,
    labels: torch.Tensor,
    head: torch.nn.Module,
    chunk: int = DEFAULT_CHUNK,
    num_items: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean next-token cross-entropy over supervised positions. hidden: (B, L, H), labels: (B, L).

    `num_items` divides the sum instead of this batch's count (gradient accumulation across micro-batches)."""
    rows, cols = supervised_positions(labels)
    targets = labels[rows, cols + 1]
    picked = hidden[rows, cols]  # (M, H): only what a label will be compared with
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, picked.shape[0], chunk):
        part, want = picked[start : start + chunk], targets[start : start + chunk]
        if torch.is_grad_enabled() and part.requires_grad:
            total = total + checkpoint(_chunk_loss_sum, head, part, want, use_reentrant=False)
        else:
            total = total + _chunk_loss_sum(head, part, want)
    count = num_items if num_items is not None else targets.numel()
    if isinstance(count, torch.Tensor):
        count = count.to(total.device)
    # no supervised token at all: a zero loss that still depends on the graph, as the plain path's NaN would not
    return total / count if targets.numel() else total + 0.0 * hidden.sum()

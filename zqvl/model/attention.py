"""`zqvl_packed_sdpa`: SDPA that runs each packed sample on its own, for packed rows without flash-attention.

Packed rows (zqvl/train/packing.py) restart their position ids at every sample. Plain SDPA would get a dense
block-diagonal (rows x L x L) mask and still compute every query-key pair of the row — on a 1,024-token row of
six samples that is ~6x the attention work, and the mask forces the slow kernel. Here each sample's slice runs as
its own causal SDPA call (flash / memory-efficient kernels allowed), the work flash-attention's varlen kernels do.
Anything that is not a packed row (a padding mask, a KV cache, one sample per row) goes to transformers' own SDPA.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

PACKED_SDPA = "zqvl_packed_sdpa"


def sample_bounds(position_ids: torch.Tensor) -> list[list[int]]:
    """Per row, the start of each sample (a position that does not follow the one before) and the row's end."""
    rows, length = position_ids.shape
    restarts = torch.ones_like(position_ids, dtype=torch.bool)
    restarts[:, 1:] = position_ids[:, 1:] != position_ids[:, :-1] + 1
    return [row.nonzero().flatten().tolist() + [length] for row in restarts]


def packed_sdpa_forward(module, query, key, value, attention_mask, position_ids=None, **kwargs):
    """query (B, heads, L, D), key/value (B, kv_heads, L, D) -> ((B, L, heads, D), None), as SDPA's interface."""
    length = query.shape[2]
    if attention_mask is not None or position_ids is None or key.shape[2] != length or length == 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    bounds = sample_bounds(position_ids.expand(query.shape[0], -1))
    if all(len(b) == 2 for b in bounds):  # one sample per row: nothing to split
        return sdpa_attention_forward(module, query, key, value, None, **kwargs)
    kwargs.pop("is_causal", None)
    out = query.new_empty(query.shape[0], length, query.shape[1], query.shape[3])
    for row, starts in enumerate(bounds):
        for a, b in zip(starts, starts[1:]):
            part, _ = sdpa_attention_forward(
                module,
                query[row : row + 1, :, a:b],
                key[row : row + 1, :, a:b],
                value[row : row + 1, :, a:b],
                None,
                is_causal=True,
                **kwargs,
            )
            out[row : row + 1, a:b] = part
    return out, None


def packed_sdpa_mask(*args, attention_mask=None, **kwargs):
    """No mask where the rows may be packed (the attention function reads the position ids); a padding mask is
    SDPA's own."""
    if attention_mask is None:
        return None
    return sdpa_mask(*args, attention_mask=attention_mask, **kwargs)


AttentionInterface.register(PACKED_SDPA, packed_sdpa_forward)
ALL_MASK_ATTENTION_FUNCTIONS.register(PACKED_SDPA, packed_sdpa_mask)

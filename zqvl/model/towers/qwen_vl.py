"""Qwen-VL's visual tower, ported: ViT (fused per-head qkv) + one cross-attention resampler with learned queries.

Module and parameter names equal the keys under `transformer.visual.` in a Qwen-VL-Chat checkpoint, so its weights
load with a plain prefix strip (see qwen_vl_checkpoint.py). Architecture facts: shared/qwen-vl-visual.md.
Batch-first throughout (the original is sequence-first; the maths is the same).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer


class QwenVLVisionConfig(PreTrainedConfig):
    """Hyper-parameters of the tower; defaults are Qwen-VL-Chat's (config.json "visual" plus fixed code values)."""

    model_type = "zqvl_qwen_vl_vision"

    image_size: int = 448
    patch_size: int = 14
    width: int = 1664
    layers: int = 48
    heads: int = 16
    mlp_size: int = 8192  # int(width * mlp_ratio) in Qwen's config
    output_dim: int = 4096
    n_queries: int = 256  # resampler queries = image tokens (a square number)
    resampler_heads: int = 32  # output_dim // 128 in Qwen-VL
    pos_grid: int = 16  # the ViT's positional table is pos_grid^2 rows, resized to the patch grid
    layer_norm_eps: float = 1e-6
    initializer_range: float = 0.02

    @property
    def hidden_size(self) -> int:
        return self.output_dim


def resize_positions(table: torch.Tensor, count: int) -> torch.Tensor:
    """A (g*g, D) positional table resized to (count, D) over its 2-D grid: bicubic, float32, cast back."""
    src, dst = math.isqrt(table.shape[0]), math.isqrt(count)
    if src == dst:
        return table
    grid = table.float().reshape(1, src, src, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(dst, dst), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).flatten(0, 2).to(table.dtype)


def sincos_2d(dim: int, grid: int) -> torch.Tensor:
    """Fixed 2-D sin-cos table (grid*grid, dim): first half encodes the column, second half the row (as the
    original MAE-derived code orders its meshgrid); each half is sin then cos, frequencies 1/10000^(2i/d)."""
    rows, cols = torch.meshgrid(
        torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32), indexing="ij"
    )

    def one_axis(pos: torch.Tensor, d: int) -> torch.Tensor:
        omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float32) / (d / 2))
        angles = pos.reshape(-1, 1) * omega
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([one_axis(cols, dim // 2), one_axis(rows, dim // 2)], dim=1)


class QwenVLAttention(nn.Module):
    """Self-attention with Qwen's fused in_proj: its output is laid out per head as [q | k | v], not [Q | K | V]."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.in_proj(x).view(b, n, self.heads, 3, d // self.heads).permute(3, 0, 2, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(head_dim), as the original
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class QwenVLResidualBlock(GradientCheckpointingLayer):
    def __init__(self, c: QwenVLVisionConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.width, eps=c.layer_norm_eps)
        self.attn = QwenVLAttention(c.width, c.heads)
        self.ln_2 = nn.LayerNorm(c.width, eps=c.layer_norm_eps)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(c.width, c.mlp_size)),
                    ("gelu", nn.GELU()),
                    ("c_proj", nn.Linear(c.mlp_size, c.width)),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class QwenVLTransformer(nn.Module):
    def __init__(self, c: QwenVLVisionConfig):
        super().__init__()
        self.resblocks = nn.ModuleList([QwenVLResidualBlock(c) for _ in range(c.layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x)
        return x


class QwenVLResampler(nn.Module):
    """n_queries learned queries attend once over all patches: queries get the fixed sin-cos table, keys get the
    same table resized to the patch grid, values none."""

    def __init__(self, c: QwenVLVisionConfig):
        super().__init__()
        self.grid = math.isqrt(c.n_queries)
        if self.grid * self.grid != c.n_queries:
            raise ValueError(f"n_queries must be a square number, got {c.n_queries}")
        self.query = nn.Parameter(torch.empty(c.n_queries, c.output_dim))
        # Fixed, never trained (requires_grad=False in the original); saved under the same key.
        self.register_buffer("pos_embed", sincos_2d(c.output_dim, self.grid), persistent=True)
        self.kv_proj = nn.Linear(c.width, c.output_dim, bias=False)
        self.attn = nn.MultiheadAttention(c.output_dim, c.resampler_heads, batch_first=True)
        self.ln_q = nn.LayerNorm(c.output_dim, eps=c.layer_norm_eps)
        self.ln_kv = nn.LayerNorm(c.output_dim, eps=c.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pos = self.pos_embed.to(self.query.dtype)  # transformers keeps loaded buffers in float32
        key_pos = resize_positions(pos, x.shape[1])
        kv = self.ln_kv(self.kv_proj(x))
        q = (self.ln_q(self.query) + pos).unsqueeze(0).expand(x.shape[0], -1, -1)
        return self.attn(q, kv + key_pos, kv, need_weights=False)[0]


class QwenVLVisionModel(PreTrainedModel):
    """pixel_values (N, 3, S, S) -> features (N, n_queries, output_dim)."""

    config: QwenVLVisionConfig
    config_class = QwenVLVisionConfig
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["QwenVLResidualBlock"]

    def __init__(self, config: QwenVLVisionConfig):
        super().__init__(config)
        c = config
        self.conv1 = nn.Conv2d(3, c.width, kernel_size=c.patch_size, stride=c.patch_size, bias=False)
        self.positional_embedding = nn.Parameter(torch.empty(c.pos_grid**2, c.width))
        self.ln_pre = nn.LayerNorm(c.width, eps=c.layer_norm_eps)
        self.transformer = QwenVLTransformer(c)
        self.attn_pool = QwenVLResampler(c)
        self.ln_post = nn.LayerNorm(c.output_dim, eps=c.layer_norm_eps)
        self.proj = nn.Parameter(torch.empty(c.output_dim, c.output_dim))
        self.post_init()

    @property
    def num_tokens(self) -> int:
        return self.config.n_queries

    @property
    def hidden_size(self) -> int:
        return self.config.output_dim

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        if pixel_values.shape[-1] != pixel_values.shape[-2]:
            raise ValueError(f"Qwen-VL tower needs square images, got {tuple(pixel_values.shape[-2:])}")
        x = self.conv1(pixel_values.to(self.conv1.weight.dtype)).flatten(2).transpose(1, 2)
        x = self.ln_pre(x + resize_positions(self.positional_embedding, x.shape[1]))
        x = self.attn_pool(self.transformer(x))
        return self.ln_post(x) @ self.proj

    def _init_weights(self, module):
        super()._init_weights(module)  # Linear/Conv: normal(0.02), LayerNorm: 1/0, MultiheadAttention: torch's
        c = self.config
        if isinstance(module, QwenVLVisionModel):
            init.normal_(module.positional_embedding, std=c.width**-0.5)
            init.normal_(module.proj, std=c.output_dim**-0.5)
        elif isinstance(module, QwenVLResampler):
            init.trunc_normal_(module.query, std=0.02)
            init.copy_(module.pos_embed, sincos_2d(c.output_dim, module.grid))


# ZqvlConfig resolves its vision_config by model_type through AutoConfig.
AutoConfig.register(QwenVLVisionConfig.model_type, QwenVLVisionConfig, exist_ok=True)
AutoModel.register(QwenVLVisionConfig, QwenVLVisionModel, exist_ok=True)

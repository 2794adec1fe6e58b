"""Qwen-VL tower port: real key names, sharded checkpoint loading with key coverage, 448 px plain-resize input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from zqvl.errors import UsageError
from zqvl.model.image_processing import ImageProcessor
from zqvl.model.presets import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from zqvl.model.testing import TINY_VISUAL, write_fake_qwen_vl_chat
from zqvl.model.towers import load_vision
from zqvl.model.towers.qwen_vl import QwenVLAttention, QwenVLVisionModel, resize_positions
from zqvl.model.towers.qwen_vl_checkpoint import PREFIX, config_from_visual, load_qwen_vl_tower


def documented_keys(layers: int) -> set[str]:
    """The key list of shared/qwen-vl-visual.md, written out independently of the port."""
    keys = {
        "conv1.weight",
        "positional_embedding",
        "ln_pre.weight",
        "ln_pre.bias",
        "attn_pool.query",
        "attn_pool.pos_embed",
        "attn_pool.kv_proj.weight",
        "attn_pool.attn.in_proj_weight",
        "attn_pool.attn.in_proj_bias",
        "attn_pool.attn.out_proj.weight",
        "attn_pool.attn.out_proj.bias",
        "attn_pool.ln_q.weight",
        "attn_pool.ln_q.bias",
        "attn_pool.ln_kv.weight",
        "attn_pool.ln_kv.bias",
        "ln_post.weight",
        "ln_post.bias",
        "proj",
    }
    for i in range(layers):
        for leaf in ("ln_1", "attn.in_proj", "attn.out_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
            keys |= {f"transformer.resblocks.{i}.{leaf}.weight", f"transformer.resblocks.{i}.{leaf}.bias"}
    return keys


def test_port_uses_qwen_vl_chat_key_names_and_shapes():
    real = config_from_visual(
        {
            "image_size": 448,
            "patch_size": 14,
            "width": 1664,
            "layers": 48,
            "heads": 16,
            "mlp_ratio": 4.9231,
            "output_dim": 4096,
        }
    )
    with torch.device("meta"):
        model = QwenVLVisionModel(real)
    state = model.state_dict()
    assert set(state) == documented_keys(48)
    assert state["transformer.resblocks.0.mlp.c_fc.weight"].shape == (8192, 1664)
    assert state["attn_pool.query"].shape == (256, 4096)
    assert state["attn_pool.kv_proj.weight"].shape == (4096, 1664)
    assert state["proj"].shape == (4096, 4096) and state["positional_embedding"].shape == (256, 1664)
    assert model.attn_pool.attn.num_heads == 32 and model.num_tokens == 256 and model.hidden_size == 4096


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_loads_every_visual_key_from_sharded_checkpoint(tmp_path, fmt):
    state = write_fake_qwen_vl_chat(tmp_path, shards=3, fmt=fmt)
    index = json.loads(next(tmp_path.glob("*.index.json")).read_text())
    visual_shards = {f for k, f in index["weight_map"].items() if k.startswith(PREFIX)}
    assert len(set(index["weight_map"].values())) == 3 and len(visual_shards) >= 2

    tower = load_qwen_vl_tower(tmp_path)
    loaded = tower.state_dict()
    assert set(loaded) == documented_keys(TINY_VISUAL["layers"])
    for key, value in loaded.items():
        assert torch.equal(value, state[PREFIX + key]), key
    features = tower(torch.randn(2, 3, 56, 56))
    assert features.shape == (2, 16, 48) and torch.isfinite(features).all()


def _rewrite(tmp_path, state, **kw):
    for f in tmp_path.iterdir():
        f.unlink()
    write_fake_qwen_vl_chat(tmp_path, state=state, **kw)


def test_missing_keys_fail_naming_each(tmp_path):
    state = write_fake_qwen_vl_chat(tmp_path, shards=3)
    gone = [PREFIX + "attn_pool.ln_kv.bias", PREFIX + "transformer.resblocks.1.mlp.c_fc.weight"]
    _rewrite(tmp_path, {k: v for k, v in state.items() if k not in gone}, shards=3)
    with pytest.raises(UsageError) as err:
        load_qwen_vl_tower(tmp_path)
    message = str(err.value)
    assert "2 missing key(s)" in message and all(k in message for k in gone)
    assert "\n" not in message


def test_key_listed_in_index_but_absent_from_shard_is_named(tmp_path):
    write_fake_qwen_vl_chat(tmp_path, shards=3)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    victim = PREFIX + "ln_post.weight"
    shard = tmp_path / index["weight_map"][victim]
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(shard))
    del tensors[victim]
    save_file(tensors, str(shard))
    with pytest.raises(UsageError, match="ln_post.weight") as err:
        load_qwen_vl_tower(tmp_path)
    assert "not in their shard" in str(err.value)


def test_unexpected_and_misshaped_keys_are_named(tmp_path):
    state = write_fake_qwen_vl_chat(tmp_path, shards=2)
    state[PREFIX + "attn_pool.extra.weight"] = torch.zeros(3)
    state[PREFIX + "ln_pre.bias"] = torch.zeros(7)
    _rewrite(tmp_path, state, shards=2)
    with pytest.raises(UsageError) as err:
        load_qwen_vl_tower(tmp_path)
    message = str(err.value)
    assert "unexpected key(s): transformer.visual.attn_pool.extra.weight" in message
    assert "transformer.visual.ln_pre.bias [7] (expected [32])" in message


def test_not_a_qwen_vl_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    with pytest.raises(UsageError, match="no 'visual' section"):
        load_qwen_vl_tower(tmp_path)


def test_attention_splits_fused_projection_per_head():
    """Qwen's in_proj output is [q|k|v] per head (Megatron layout), not [Q|K|V] over all heads."""
    torch.manual_seed(0)
    width, heads, n = 12, 3, 5
    attn = QwenVLAttention(width, heads)
    x = torch.randn(2, n, width)
    hd = width // heads
    w, b = attn.in_proj.weight, attn.in_proj.bias
    outs = []
    for h in range(heads):
        base = h * 3 * hd
        q, k, v = (
            x @ w[base + j * hd : base + (j + 1) * hd].T + b[base + j * hd : base + (j + 1) * hd] for j in range(3)
        )
        outs.append(torch.softmax(q @ k.transpose(1, 2) / hd**0.5, dim=-1) @ v)
    expected = attn.out_proj(torch.cat(outs, dim=-1))
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-6)


def test_positional_table_follows_the_patch_grid():
    table = torch.randn(256, 8)
    assert resize_positions(table, 256) is table
    grid = resize_positions(table, 1024)
    assert grid.shape == (1024, 8)
    # bicubic upsampling of a constant table stays constant
    torch.testing.assert_close(resize_positions(torch.full((256, 4), 0.5), 1024), torch.full((1024, 4), 0.5))


def edge_marked_image() -> Image.Image:
    """Wide white image: red bars on the left/right edges, blue bars top/bottom, text hugging the left edge."""
    image = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 9, 299], fill=(255, 0, 0))
    draw.rectangle([890, 0, 899, 299], fill=(255, 0, 0))
    draw.rectangle([100, 0, 799, 7], fill=(0, 0, 255))
    draw.rectangle([100, 292, 799, 299], fill=(0, 0, 255))
    draw.text((12, 140), "OCR", fill="black")
    return image


def test_qwen_vl_preprocessing_is_448_plain_resize_without_crop(tmp_path):
    write_fake_qwen_vl_chat(tmp_path, visual={**TINY_VISUAL, "image_size": 448})
    source = load_vision(str(tmp_path))
    proc = source.image_processor
    assert (proc.height, proc.width, proc.resize) == (448, 448, "plain")
    assert proc.mean == OPENAI_CLIP_MEAN and proc.std == OPENAI_CLIP_STD

    image = edge_marked_image()
    pixels = proc([image])[0]
    assert pixels.shape == (3, 448, 448)
    # exactly a bicubic resize of the whole image to 448x448, normalised: nothing cropped
    reference = np.asarray(image.resize((448, 448), Image.BICUBIC), np.float32) / 255
    reference = (reference - np.array(OPENAI_CLIP_MEAN, np.float32)) / np.array(OPENAI_CLIP_STD, np.float32)
    torch.testing.assert_close(pixels, torch.from_numpy(reference.transpose(2, 0, 1)))

    rgb = pixels * torch.tensor(OPENAI_CLIP_STD)[:, None, None] + torch.tensor(OPENAI_CLIP_MEAN)[:, None, None]
    red = (rgb[0] > 0.8) & (rgb[1] < 0.2) & (rgb[2] < 0.2)
    blue = (rgb[2] > 0.8) & (rgb[0] < 0.2)
    assert red[:, 0].all() and red[:, -1].all()  # both side edges survive
    assert blue[0, 100:340].all() and blue[-1, 100:340].all()  # top and bottom edges survive
    assert (rgb[:, 200:250, 6:16].mean(0) < 0.6).any()  # the text next to the left edge is still there

    # the CLIP-style alternative (shortest edge + centre crop) would have cut the side edges and the text off
    cropped = ImageProcessor(448, 448, "crop", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)([image])[0]
    crgb = cropped * torch.tensor(OPENAI_CLIP_STD)[:, None, None] + torch.tensor(OPENAI_CLIP_MEAN)[:, None, None]
    assert not ((crgb[0, :, 0] > 0.8) & (crgb[1, :, 0] < 0.2)).any()

    features = load_qwen_vl_tower(tmp_path)(pixels[None])  # 32x32 patches, positions resized from 16x16
    assert features.shape == (1, 16, 48) and torch.isfinite(features).all()


def test_qwen_vl_tower_rejects_feature_options(tmp_path):
    write_fake_qwen_vl_chat(tmp_path)
    with pytest.raises(UsageError, match="resampler output"):
        load_vision(str(tmp_path), feature_layer=-2)


def test_build_from_qwen_vl_checkpoint_in_bfloat16(tmp_path):
    from zqvl.model.build import build_model, load_model

    state = write_fake_qwen_vl_chat(tmp_path / "Qwen-VL-Chat", shards=4, fmt="bin")
    out = build_model(str(tmp_path / "Qwen-VL-Chat"), "tiny-qwen2", tmp_path / "m", dtype="bfloat16")
    model, proc = load_model(out)
    assert model.dtype == torch.bfloat16 and proc.num_image_tokens == 16
    for key, value in model.vision_tower.state_dict().items():
        assert torch.equal(value.to(torch.bfloat16), state[PREFIX + key].to(torch.bfloat16)), key
    batch = proc("<image>\n图里写了什么？", images=[edge_marked_image()])
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()

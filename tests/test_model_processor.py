"""`<image>` as one real token, image-token expansion per image and per record, image preprocessing parity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from zqvl.data.schema import parse_record
from zqvl.data.template import chat_template, segments
from zqvl.errors import UsageError
from zqvl.model.image_processing import ImageProcessor
from zqvl.model.presets import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, SIGLIP_MEAN, SIGLIP_STD
from zqvl.model.processor import ZqvlProcessor, expand_image_tokens
from zqvl.model.tokenizer import image_token_id

CLIP_CROP = ImageProcessor(32, 32, "crop", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, "CLIPImageProcessor")
SIGLIP_PLAIN = ImageProcessor(48, 48, "plain", SIGLIP_MEAN, SIGLIP_STD, "SiglipImageProcessor")
QWEN_PLAIN = ImageProcessor(448, 448, "plain", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, "CLIPImageProcessor")


def random_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    data = (np.random.default_rng(seed).random((height, width, channels)) * 255).astype("uint8")
    return Image.fromarray(data.squeeze(-1) if channels == 1 else data, mode)


def runs(ids: list[int], token: int) -> list[int]:
    """Lengths of the maximal runs of `token` in ids."""
    out, n = [], 0
    for i in ids + [None]:
        if i == token:
            n += 1
        elif n:
            out, n = out + [n], 0
    return out


def test_image_tag_is_one_special_token_and_round_trips(qwen_tokenizer, tmp_path):
    tok = qwen_tokenizer
    iid = image_token_id(tok)
    assert tok.encode("<image>", add_special_tokens=False) == [iid]
    assert iid not in tok.encode("<", add_special_tokens=False)  # the seed's bug: the id of "<"
    assert iid in tok.all_special_ids and tok.decode([iid]) == "<image>"
    text = "看<image>这张图，<image>那张。"
    ids = tok.encode(text, add_special_tokens=False)
    assert ids.count(iid) == 2 and tok.decode(ids) == text

    ZqvlProcessor(tok, CLIP_CROP, 4).save_pretrained(tmp_path)
    reloaded = ZqvlProcessor.from_pretrained(tmp_path)
    assert reloaded.image_token_id == iid and reloaded.num_image_tokens == 4
    assert reloaded.tokenizer.encode(text, add_special_tokens=False) == ids
    assert reloaded.tokenizer.chat_template == chat_template()
    assert reloaded.image_processor == CLIP_CROP


def test_saved_image_token_id_must_match_tokenizer(qwen_tokenizer, tmp_path):
    ZqvlProcessor(qwen_tokenizer, CLIP_CROP, 4).save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "processor_config.json").read_text())
    meta["image_token_id"] = 27  # "<" in the Qwen vocabulary
    (tmp_path / "processor_config.json").write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="says 27"):
        ZqvlProcessor.from_pretrained(tmp_path)


@pytest.mark.parametrize("n_tokens", [1, 16, 256])
def test_expansion_per_image_and_per_multi_image_record(qwen_tokenizer, n_tokens):
    proc = ZqvlProcessor(qwen_tokenizer, CLIP_CROP, n_tokens)
    iid = proc.image_token_id
    record = parse_record(
        {
            "id": "m1",
            "image": ["a.jpg", "b.jpg"],
            "conversations": [
                {"from": "human", "value": "<image>\n<image>\n这两张图有什么不同？"},
                {"from": "gpt", "value": "左边是猫，右边是狗。"},
                {"from": "human", "value": "哪个更大？"},
                {"from": "gpt", "value": "狗更大。"},
            ],
        },
        0,
    )
    text = "".join(s.text for s in segments(record))
    ids = proc.encode(text)
    assert runs(ids, iid) == [n_tokens, n_tokens]  # one run per image, in order, none merged
    assert qwen_tokenizer.decode([i for i in ids if i != iid]) == text.replace("<image>", "")

    single = proc.encode("<image>\n描述图片")
    assert runs(single, iid) == [n_tokens]
    adjacent = proc.encode("<image><image>")
    assert adjacent == [iid] * (2 * n_tokens)
    assert proc.encode("没有图片") == qwen_tokenizer.encode("没有图片", add_special_tokens=False)


def test_expand_image_tokens_repeats_only_the_image_id():
    assert expand_image_tokens([5, 9, 6, 9, 9], image_token_id=9, num_image_tokens=3) == [5, 9, 9, 9, 6] + [9] * 6
    assert expand_image_tokens([5, 6], image_token_id=9, num_image_tokens=3) == [5, 6]
    assert expand_image_tokens([9], image_token_id=9, num_image_tokens=1) == [9]


def test_processor_call_tokenises_and_preprocesses_a_batch(qwen_tokenizer):
    proc = ZqvlProcessor(qwen_tokenizer, CLIP_CROP, 5)
    images = [random_image(40, 30, seed=i) for i in range(3)]
    batch = proc(["<image>\n问题", "<image>和<image>比较一下"], images=images)
    assert batch["pixel_values"].shape == (3, 3, 32, 32)
    assert (batch["input_ids"] == proc.image_token_id).sum().item() == 15
    assert batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][1].all()  # left padding
    with pytest.raises(ValueError, match="2 '<image>' tag"):
        proc("<image><image>", images=images[:1])


@pytest.mark.parametrize("processor", [CLIP_CROP, SIGLIP_PLAIN, QWEN_PLAIN], ids=["clip", "siglip", "qwen"])
@pytest.mark.parametrize("mode,size", [("RGB", (61, 23)), ("RGBA", (20, 50)), ("L", (64, 64))])
def test_preprocessing_equals_transformers_image_processor(tmp_path, processor, mode, size):
    """The saved preprocessor_config.json makes AutoImageProcessor compute the same pixels (hf-llava relies on it)."""
    from transformers import AutoImageProcessor
    from transformers.utils import logging as hf_logging

    processor.save(tmp_path)
    hf_logging.set_verbosity_error()
    try:
        hf = AutoImageProcessor.from_pretrained(str(tmp_path))
    finally:
        hf_logging.set_verbosity_warning()
    image = random_image(*size, mode=mode, seed=3)
    ours = processor([image])
    theirs = torch.as_tensor(np.asarray(hf(images=[image], return_tensors="np")["pixel_values"]))
    assert ours.shape == theirs.shape == (1, 3, processor.height, processor.width)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    assert ImageProcessor.load(tmp_path) == processor


def test_transparent_pixels_become_white():
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    pixels = SIGLIP_PLAIN([image])
    torch.testing.assert_close(pixels, torch.ones_like(pixels))  # white, normalised with mean=std=0.5


def test_reads_checkpoint_preprocessor_configs():
    old = {
        "image_processor_type": "CLIPImageProcessor",
        "size": 336,
        "crop_size": 336,
        "do_center_crop": True,
        "image_mean": list(OPENAI_CLIP_MEAN),
        "image_std": list(OPENAI_CLIP_STD),
        "resample": 3,
    }
    assert ImageProcessor.from_hf_dict(old) == ImageProcessor(336, 336, "crop", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)
    siglip = {
        "image_processor_type": "SiglipImageProcessor",
        "size": {"height": 384, "width": 384},
        "image_mean": [0.5] * 3,
        "image_std": [0.5] * 3,
        "resample": 3,
    }
    assert ImageProcessor.from_hf_dict(siglip).resize == "plain"
    with pytest.raises(UsageError, match="varying size"):
        ImageProcessor.from_hf_dict({**siglip, "size": {"shortest_edge": 384}})
    with pytest.raises(UsageError, match="bicubic"):
        ImageProcessor.from_hf_dict({**siglip, "resample": 2})

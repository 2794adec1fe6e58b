"""`zqvl-model export --format hf-llava`: plain transformers loads it and computes what zqvl computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from zqvl.cli.model import _main
from zqvl.data.template import generation_prompt, stop_token_ids
from zqvl.errors import UsageError
from zqvl.model.build import build_model, load_model
from zqvl.model.export import export_model
from zqvl.ui import run_cli


def photo(seed: int, size=(57, 41)) -> Image.Image:
    return Image.fromarray((np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype("uint8"))


@pytest.mark.parametrize(
    "vision,options",
    [("tiny-clip", {}), ("tiny-clip", {"cls": "keep", "feature_layer": -1}), ("tiny-siglip", {})],
    ids=["clip", "clip-keep-cls", "siglip"],
)
def test_llava_export_matches_zqvl(tmp_path, vision, options):
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    src = build_model(vision, "tiny-qwen2", tmp_path / "zqvl", **options)
    assert run_cli(_main, ["export", str(src), "--format", "hf-llava", "--out", str(tmp_path / "llava")]) == 0
    llava = LlavaForConditionalGeneration.from_pretrained(str(tmp_path / "llava")).eval()
    hf_processor = AutoProcessor.from_pretrained(str(tmp_path / "llava"))
    model, processor = load_model(src)

    prompts = [
        generation_prompt([], "<image>\n这张图片里有什么？"),
        generation_prompt([("<image>\n第一张", "好的。")], "<image>\n和第一张比呢？"),
    ]
    images = [photo(0), photo(1), photo(2, size=(30, 70))]
    ours = processor(prompts, images=images)
    theirs = hf_processor(text=prompts, images=images, return_tensors="pt", padding=True, padding_side="left")
    assert torch.equal(ours["input_ids"], theirs["input_ids"])  # same expansion, same token ids
    torch.testing.assert_close(ours["pixel_values"], theirs["pixel_values"], rtol=0, atol=1e-5)

    with torch.no_grad():
        a = model(**ours).logits
        b = llava(**theirs).logits
    mask = ours["attention_mask"].bool()
    torch.testing.assert_close(a[mask], b[mask], rtol=1e-4, atol=1e-4)
    generate = dict(max_new_tokens=8, do_sample=False)
    assert torch.equal(model.generate(**ours, **generate), llava.generate(**theirs, **generate))
    # the exported processor renders HF-format messages (content = list of parts) into the same prompt text
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "\n这张图片里有什么？"}]}]
    assert hf_processor.apply_chat_template(messages, add_generation_prompt=True) == prompts[0]
    assert llava.generation_config.eos_token_id == stop_token_ids(processor.tokenizer) == [151645, 151643]


def test_qwen_vl_build_refuses_llava_export(tmp_path, capsys):
    src = build_model("tiny-qwen-vl", "tiny-qwen2", tmp_path / "zqvl")
    with pytest.raises(UsageError, match="needs zqvl installed"):
        export_model(src, tmp_path / "llava")
    assert run_cli(_main, ["export", str(src), "--format", "hf-llava", "--out", str(tmp_path / "llava")]) == 2
    assert "Qwen-VL vision tower" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zqvl"]


def test_export_never_overwrites(tmp_path):
    (tmp_path / "llava").mkdir()
    with pytest.raises(UsageError, match="already exists"):
        export_model(tmp_path / "whatever", tmp_path / "llava")
    with pytest.raises(UsageError, match="not a zqvl model directory"):
        export_model(tmp_path / "missing", tmp_path / "out")

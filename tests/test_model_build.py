"""`zqvl-model build` / `info` on the tiny presets and on local weight directories; the model contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from zqvl.cli.model import _main
from zqvl.data.template import generation_prompt
from zqvl.errors import UsageError
from zqvl.model.build import build_model, calibration_image, load_model, parameter_groups
from zqvl.ui import run_cli

PRESETS = ["tiny-qwen-vl", "tiny-clip", "tiny-siglip"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("builds")
    return {v: build_model(v, "tiny-qwen2", root / v) for v in PRESETS}


@pytest.fixture(scope="module")
def loaded(built):
    """(model, processor) per preset, loaded once; tests that change a model load their own."""
    cache = {}

    def get(vision):
        if vision not in cache:
            cache[vision] = load_model(built[vision])
        return cache[vision]

    return get


def image(seed: int, size=(50, 40)) -> Image.Image:
    data = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype("uint8")
    return Image.fromarray(data)


def test_build_writes_a_plain_hf_directory(built):
    from transformers import AutoModelForImageTextToText

    for path in built.values():
        names = {p.name for p in path.iterdir()}
        assert {
            "config.json",
            "model.safetensors",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "preprocessor_config.json",
            "processor_config.json",
        } <= names
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
        config = json.loads((path / "config.json").read_text())
        assert config["model_type"] == "zqvl" and config["num_image_tokens"] == 16
        generation = json.loads((path / "generation_config.json").read_text())
        # the template's stop tokens, <|im_end|> first (the tiny LLM has no eos of its own)
        assert generation["max_new_tokens"] >= 1024 and generation["eos_token_id"] == [151645, 151643]
        model = AutoModelForImageTextToText.from_pretrained(str(path))  # no trust_remote_code
        assert type(model).__name__ == "ZqvlForConditionalGeneration"
        assert model.vision_tower.num_tokens == 16


@pytest.mark.parametrize("vision", PRESETS)
def test_forward_places_image_features_and_computes_shifted_loss(loaded, vision):
    model, proc = loaded(vision)
    prompt = generation_prompt([], "<image>\n图片里有什么？") + "一只猫。<|im_end|>"
    batch = proc(prompt, images=[image(0)])
    ids = batch["input_ids"]
    labels = ids.clone()
    answer_start = len(proc.encode(generation_prompt([], "<image>\n图片里有什么？")))
    labels[:, :answer_start] = -100
    with torch.no_grad():
        loss = model(**batch, labels=labels).loss  # supervised positions only (model/loss.py)
        out = model(**batch)
        other = model(
            input_ids=ids, attention_mask=batch["attention_mask"], pixel_values=proc.preprocess_images([image(1)])
        )
    expected = F.cross_entropy(out.logits[0, :-1].float(), labels[0, 1:], ignore_index=-100)
    torch.testing.assert_close(loss, expected)
    # causal: positions before the first image token cannot see the image; every later position does
    first = int((ids[0] == proc.image_token_id).nonzero()[0])
    torch.testing.assert_close(out.logits[0, :first], other.logits[0, :first])
    assert not torch.allclose(out.logits[0, first:], other.logits[0, first:])


def test_images_fill_their_runs_in_order(loaded):
    model, proc = loaded("tiny-clip")
    batch = proc(["<image>甲", "乙<image>丙<image>"], images=[image(0), image(1), image(2)])
    ids = batch["input_ids"]
    with torch.no_grad():
        features = model.get_image_features(batch["pixel_values"])
        merged = model.merge_image_features(ids, model.get_input_embeddings()(ids), batch["pixel_values"])
    positions = (ids == proc.image_token_id).nonzero()
    torch.testing.assert_close(merged[positions[:, 0], positions[:, 1]], features.reshape(-1, features.shape[-1]))
    with pytest.raises(ValueError, match="47 image tokens .* 3 image"):  # row 2 loses its last image token
        model(input_ids=ids[:, :-1], pixel_values=batch["pixel_values"])
    with pytest.raises(ValueError, match="no pixel_values"):
        model(input_ids=ids)


def test_generate_with_images(loaded):
    model, proc = loaded("tiny-siglip")
    batch = proc(
        [generation_prompt([], "<image>\n描述"), generation_prompt([], "<image>\n这是什么？再看一次")],
        images=[image(0), image(1)],
    )
    out = model.generate(**batch, max_new_tokens=6, do_sample=False, eos_token_id=None)
    assert out.shape == (2, batch["input_ids"].shape[1] + 6)
    assert torch.equal(out[:, : batch["input_ids"].shape[1]], batch["input_ids"])


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing_enable` is deprecated:FutureWarning")
@pytest.mark.parametrize("vision", ["tiny-qwen-vl", "tiny-clip"])
def test_gradient_checkpointing_gives_the_same_gradients(built, vision):
    model, proc = load_model(built[vision])
    for p in model.vision_tower.parameters():
        p.requires_grad_(False)
    batch = proc(["<image>\n你好"], images=[image(0)])
    labels = batch["input_ids"].clone()

    def grads():
        model.zero_grad()
        model(**batch, labels=labels).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    model.train()
    plain = grads()
    model.gradient_checkpointing_enable()
    checkpointed = grads()
    assert model.language_model.model.layers[0].gradient_checkpointing
    assert plain.keys() == checkpointed.keys() and any("projector" in n for n in plain)
    for name in plain:
        torch.testing.assert_close(plain[name], checkpointed[name], msg=name)


def test_parameter_groups_partition_the_model(loaded):
    model, _ = loaded("tiny-qwen-vl")
    groups = parameter_groups(model)
    assert set(groups) == {"vision", "projector", "llm"} and all(groups.values())
    names = [n for part in groups.values() for n, _ in part]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())
    assert all(n.startswith("vision_tower.") for n, _ in groups["vision"])
    assert all(n.startswith("language_model.") for n, _ in groups["llm"])
    assert [n for n, _ in groups["projector"]] == [
        "projector.linears.0.weight",
        "projector.linears.0.bias",
        "projector.linears.1.weight",
        "projector.linears.1.bias",
    ]


@pytest.mark.parametrize("vision", PRESETS)
def test_projector_starts_on_the_text_embedding_scale(loaded, vision):
    model, proc = loaded(vision)
    embedding_rms = model.get_input_embeddings().weight.pow(2).mean().sqrt().item()
    assert model.config.projector_target_rms == pytest.approx(embedding_rms, rel=1e-3)
    with torch.no_grad():
        projected = model.get_image_features(proc.preprocess_images([calibration_image(64), image(5)]))
    ratio = projected.pow(2).mean().sqrt().item() / embedding_rms
    assert 0.5 < ratio < 2.0, ratio
    assert all(linear.bias.abs().max() == 0 for linear in model.projector.linears)


def tiny_llm_dir(path, vocab_size: int, with_tokenizer: bool = False):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from zqvl.model.presets import LLM_PRESETS
    from zqvl.model.tokenizer import load_tokenizer

    torch.manual_seed(1)
    llm = Qwen2ForCausalLM(Qwen2Config(**{**LLM_PRESETS["tiny-qwen2"], "vocab_size": vocab_size}))
    llm.save_pretrained(str(path))
    if with_tokenizer:
        load_tokenizer(add_image_token=False).save_pretrained(str(path))
    return llm


def test_embeddings_grow_only_when_the_image_token_has_no_row(tmp_path):
    small = tiny_llm_dir(tmp_path / "small", vocab_size=151643)
    model, proc = load_model(build_model("tiny-clip", str(tmp_path / "small"), tmp_path / "a"))
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] == 151680 and proc.image_token_id < emb.shape[0]  # len(tokenizer) rounded up to 64
    torch.testing.assert_close(emb[:151643], small.get_input_embeddings().weight)
    assert json.loads((tmp_path / "a" / "zqvl_build.json").read_text())["embeddings_resized"] is True

    full = tiny_llm_dir(tmp_path / "full", vocab_size=151936, with_tokenizer=True)
    model, _ = load_model(build_model("tiny-clip", str(tmp_path / "full"), tmp_path / "b"))
    info = json.loads((tmp_path / "b" / "zqvl_build.json").read_text())
    assert info["embeddings_resized"] is False and info["tokenizer"] == str(tmp_path / "full")
    for name, tensor in full.state_dict().items():
        torch.testing.assert_close(model.language_model.state_dict()[name], tensor, msg=name)


def test_local_clip_directory_supplies_weights_and_preprocessing(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(2)
    clip = CLIPModel(
        CLIPConfig(
            text_config=dict(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=1,
                num_attention_heads=2,
                vocab_size=99,
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
            ),
            vision_config=dict(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=3,
                num_attention_heads=2,
                image_size=40,
                patch_size=8,
            ),
        )
    )
    clip.save_pretrained(str(tmp_path / "clip"))
    (tmp_path / "clip" / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "CLIPImageProcessor",
                "size": {"shortest_edge": 40},
                "do_center_crop": True,
                "crop_size": {"height": 40, "width": 40},
                "image_mean": [0.5] * 3,
                "image_std": [0.25] * 3,
                "resample": 3,
            }
        )
    )
    out = build_model(str(tmp_path / "clip"), "tiny-qwen2", tmp_path / "m", feature_layer=-3, cls="keep")
    model, proc = load_model(out)
    assert proc.num_image_tokens == 26 and model.config.vision_feature_layer == -3  # 5x5 patches + CLS
    assert proc.image_processor.mean == (0.5,) * 3 and proc.image_processor.height == 40
    ours = model.vision_tower.model.state_dict()
    for name, tensor in clip.vision_model.state_dict().items():
        torch.testing.assert_close(ours[name], tensor, msg=name)


def test_cli_build_and_info(tmp_path, capsys):
    out = tmp_path / "m"
    assert run_cli(_main, ["build", "--vision", "tiny-siglip", "--llm", "tiny-qwen2", "--out", str(out)]) == 0
    capsys.readouterr()  # build prints its own summary; check what info prints
    assert run_cli(_main, ["info", str(out)]) == 0
    text = capsys.readouterr().out
    for expected in ("parameters per part", "projector", "trainable by stage", "1 align", "lora", "siglip"):
        assert expected in text
    [row] = [ln.split("│") for ln in text.splitlines() if ln.startswith("│ 1 align")]
    assert [c.strip() for c in row[2:6]] == ["projector", "frozen", "full", "frozen"]
    [row] = [ln.split("│") for ln in text.splitlines() if ln.startswith("│ 2 instruct")]
    assert [c.strip() for c in row[2:6]] == ["freeze_vision", "frozen", "full", "full"]
    [row] = [ln.split("│") for ln in text.splitlines() if ln.startswith("│ lora")]
    assert [c.strip() for c in row[2:5]] == ["frozen", "full", "lora"]

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert (
        run_cli(_main, ["build", "--vision", "tiny-clip", "--llm", "tiny-qwen2", "--out", str(tmp_path / "taken")]) == 2
    )
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]
    assert run_cli(_main, ["build", "--vision", "tiny-vit", "--llm", "tiny-qwen2", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "neither a preset" in err and not (tmp_path / "x").exists()
    assert run_cli(_main, ["info", str(tmp_path)]) == 2


def test_option_errors_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="SigLIP has no CLS"):
        build_model("tiny-siglip", "tiny-qwen2", tmp_path / "a", cls="drop")
    with pytest.raises(UsageError, match="projector type"):
        build_model("tiny-clip", "tiny-qwen2", tmp_path / "b", projector="mlp2x_relu")
    with pytest.raises(UsageError, match="feature layer 7 out of range"):
        build_model("tiny-clip", "tiny-qwen2", tmp_path / "c", feature_layer=7)
    assert not list(tmp_path.iterdir())

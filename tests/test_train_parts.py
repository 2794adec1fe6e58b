"""Stage presets freeze exactly the right parameters; LoRA touches only the LLM; config precedence."""

from __future__ import annotations

import pytest
import torch
from helpers.train_helpers import tiny_model

from zqvl.errors import UsageError
from zqvl.model.build import load_model, parameter_groups
from zqvl.train.config import TrainConfig, load_yaml_overrides, resolve
from zqvl.train.parts import apply_train_type
from zqvl.train.presets import stage_preset, trainable_parts


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("m") / "tiny")


def part_sizes(model):
    return {part: sum(p.numel() for _, p in named) for part, named in parameter_groups(model).items()}


def trainable_by_part(model):
    return {
        part: sum(p.numel() for _, p in named if p.requires_grad) for part, named in parameter_groups(model).items()
    }


@pytest.mark.parametrize(
    "train_type,parts",
    [("projector", {"projector"}), ("freeze_vision", {"projector", "llm"}), ("full", {"vision", "projector", "llm"})],
)
def test_train_types_freeze_exactly_their_parts(model_dir, train_type, parts):
    model, _ = load_model(model_dir)
    sizes = part_sizes(model)
    model, report = apply_train_type(model, train_type)
    got = trainable_by_part(model)
    assert got == {p: (sizes[p] if p in parts else 0) for p in sizes}
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == sum(sizes[p] for p in parts)
    assert report.trainable == sum(sizes[p] for p in parts) and report.lora_modules == []


def test_stage_presets(model_dir):
    assert stage_preset(1)["train_type"] == "projector" and stage_preset(1)["lr"] == 1e-3
    for stage in (2, 3):
        assert stage_preset(stage)["train_type"] == "freeze_vision" and stage_preset(stage)["lr"] == 2e-5
    model, _ = load_model(model_dir)
    sizes = part_sizes(model)
    model, _ = apply_train_type(model, resolve(1).train_type)
    assert trainable_by_part(model) == {"vision": 0, "projector": sizes["projector"], "llm": 0}
    assert trainable_parts("lora") == ["projector", "llm_lora"]


def test_lora_touches_no_vision_parameter(model_dir):
    model, _ = load_model(model_dir)
    # the tiny CLIP tower has q_proj/k_proj/v_proj too: the seed's LoRA caught them by name
    assert any(n.startswith("vision_tower") and n.endswith("q_proj") for n, _ in model.named_modules())
    sizes = part_sizes(model)
    before = {n: (p, p.detach().clone()) for n, p in model.named_parameters()}  # same objects after wrapping
    model, report = apply_train_type(
        model,
        "lora",
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        lora_targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    assert len(report.lora_modules) == 7 * 2  # 7 linear layers x 2 decoder layers of tiny-qwen2
    assert all(n.startswith("language_model.") for n in report.lora_modules)
    lora = {n: p for n, p in model.named_parameters() if "lora_" in n}
    assert lora and all(".language_model." in n for n in lora)
    assert all(p.requires_grad for p in lora.values())
    llm_cfg = model.get_base_model().config.text_config
    h, kv = llm_cfg.hidden_size, llm_cfg.num_key_value_heads * (llm_cfg.hidden_size // llm_cfg.num_attention_heads)
    inter = llm_cfg.intermediate_size
    per_layer = sum(4 * (i + o) for i, o in [(h, h), (h, kv), (h, kv), (h, h), (h, inter), (h, inter), (inter, h)])
    assert sum(p.numel() for p in lora.values()) == 2 * per_layer == report.by_part["llm_lora"][0]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if "lora_" not in n} == {n for n, _ in model.named_parameters() if ".projector." in n}
    assert report.by_part["projector"][0] == sizes["projector"]
    # one optimizer step moves the adapters and the projector, nothing of the vision tower or the base LLM
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.tensor([[151644, 872, 198] + [151669] * 16 + [198, 100, 151645]])
    out = model(input_ids=ids, pixel_values=torch.randn(1, 3, 32, 32), labels=ids)
    out.loss.backward()
    opt.step()
    for name, (new, old) in before.items():
        if name.startswith("projector."):
            assert not torch.equal(new, old), name
        else:
            assert torch.equal(new, old), name


def test_config_precedence(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("lr: 3.0e-4\nbatch_size: 2\nschedule: linear\n")
    cfg = resolve(2, load_yaml_overrides(yaml_file), {"batch_size": 6, "lr": None})
    assert (cfg.lr, cfg.batch_size, cfg.schedule, cfg.train_type) == (3e-4, 6, "linear", "freeze_vision")
    assert resolve(1).lr == 1e-3 and resolve(1, None, {"lr": 5e-4}).lr == 5e-4
    (tmp_path / "bad.yaml").write_text("learning_rate: 1\n")
    with pytest.raises(UsageError, match="unknown option.*learning_rate"):
        load_yaml_overrides(tmp_path / "bad.yaml")
    with pytest.raises(UsageError, match="train-type"):
        resolve(2, None, {"train_type": "everything"})
    saved = tmp_path / "saved.yaml"
    cfg.save(saved)
    from zqvl.train.config import from_saved

    assert from_saved(saved) == cfg and isinstance(cfg, TrainConfig)


def test_print_config_is_the_resolved_config_and_starts_nothing(tmp_path, capsys):
    import yaml

    from zqvl.cli.train import _main as train_main
    from zqvl.train.config import resolve
    from zqvl.ui import run_cli

    assert run_cli(train_main, ["--stage", "3", "--print-config", "--lr", "1e-4", "--max-drop", "0.3"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed == resolve(3, {}, {"lr": 1e-4, "max_drop": 0.3}).to_dict()
    assert printed["stage"] == 3 and printed["lr"] == 1e-4
    assert not list(tmp_path.iterdir())
    assert run_cli(train_main, ["--stage", "2", "--model", "m", "--shards", "s"]) == 2
    assert "--out RUN is required" in capsys.readouterr().err

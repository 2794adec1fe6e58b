"""The GPU path's switches refuse clearly where they cannot run, and the FLOP count follows the work really done."""

from __future__ import annotations

import pytest
from helpers.train_helpers import tiny_model

from zqvl.errors import UsageError
from zqvl.model.build import load_model
from zqvl.train.accel import apply_liger, resolve_attention
from zqvl.train.parts import apply_train_type
from zqvl.train.telemetry import flop_model


def test_attention_auto_is_sdpa_without_a_gpu_and_flash_is_refused_on_cpu():
    assert resolve_attention("auto", cuda=False) == "sdpa"
    assert resolve_attention("eager", cuda=False) == "eager"
    # packed rows without flash-attention: one SDPA call per sample, not a dense block-diagonal mask
    assert resolve_attention("auto", cuda=False, packing=True) == "zqvl_packed_sdpa"
    assert resolve_attention("eager", cuda=False, packing=True) == "eager"
    with pytest.raises(UsageError, match=r"^--attention flash_attention_2 needs a CUDA GPU"):
        resolve_attention("flash_attention_2", cuda=False)
    with pytest.raises(UsageError, match=r"flash_attn is not installed \(pip install flash-attn\)$"):
        resolve_attention("flash_attention_2", cuda=True)  # this machine has no flash_attn
    with pytest.raises(UsageError, match="choose one of auto, sdpa, flash_attention_2, eager"):
        resolve_attention("paged", cuda=False)


def test_liger_needs_cuda_and_says_how_to_install(tmp_path):
    model, _ = load_model(tiny_model(tmp_path / "m"))
    with pytest.raises(UsageError, match=r"^--liger needs a CUDA GPU"):
        apply_liger(model.language_model, cuda=False)
    with pytest.raises(UsageError, match=r"pip install 'zqvl\[gpu\]'"):
        apply_liger(model.language_model, cuda=True)  # liger-kernel is not installed here


def test_flops_count_the_lm_head_on_supervised_tokens_and_attention_per_sample(tmp_path):
    model, _ = load_model(tiny_model(tmp_path / "m"))
    model, parts = apply_train_type(model, "freeze_vision")
    flops = flop_model(model, parts)
    lm = model.language_model
    head = lm.get_output_embeddings().weight
    assert flops.head_params == head.numel()
    assert flops.llm_params == sum(p.numel() for p in lm.parameters()) - lm.get_input_embeddings().weight.numel() - (
        0 if head is lm.get_input_embeddings().weight else head.numel()
    )
    base = flops.per_step(tokens=1000, attended=0, images=0, supervised=0)
    # each supervised token adds a forward, an activation and a weight gradient through the head: 3 x 2 x head
    assert flops.per_step(1000, 0, 0, supervised=10) - base == 3 * 2 * head.numel() * 10
    # two samples of 500 attend half the pairs one sample of 1000 does
    layers, hidden = flops.llm_layers, flops.llm_hidden
    assert flops.per_step(1000, 2 * 500**2, 0, 0) - base == 3 * 4 * layers * hidden * 2 * 500**2


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--liger"], "error: --liger needs a CUDA GPU (its kernels are Triton); leave it off on CPU"),
        (["--attention", "flash_attention_2"], "error: --attention flash_attention_2 needs a CUDA GPU"),
    ],
)
def test_the_cli_refuses_gpu_switches_on_cpu_before_writing_the_run(tmp_path, flags, message):
    import subprocess

    from helpers.train_helpers import make_shards, sample_dir, train_cmd

    shards = make_shards(sample_dir(tmp_path / "data", n=4), tmp_path / "shards")
    run = tmp_path / "run"
    args = ["--stage", "2", "--model", tiny_model(tmp_path / "m"), "--shards", shards, "--out", run, *flags]
    done = subprocess.run(train_cmd(*args), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (run / "config.yaml").exists()  # fixing the flag and running again needs no --resume

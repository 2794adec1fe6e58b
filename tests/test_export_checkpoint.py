"""Checkpoints as models: `zqvl-model export-checkpoint` of a LoRA run's step-2 checkpoint is the same model as a
run that ended at step 2; chat / eval / info take a run dir without final/ (its last checkpoint, said in one line)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import torch
from helpers.train_helpers import train_cmd, workspace

from zqvl.model.build import load_model
from zqvl.train.export import resolve_model

pytestmark = pytest.mark.slow

# A constant LR and no warmup: steps 1-2 are the same whether the run is 2 or 4 steps long.
LORA = ["--stage", "2", "--train-type", "lora", "--lora-r", "4", "--lr", "5e-3", "--schedule", "constant"]
LORA += ["--warmup-ratio", "0", "--batch-size", "2", "--num-workers", "0", "--no-tensorboard"]


def _train(base, out, *extra):
    args = [*LORA, "--model", base / "model", "--shards", base / "shards", "--out", out, *extra]
    done = subprocess.run(train_cmd(*args), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-c", "import sys; from zqvl.cli.model import main; main(sys.argv[1:])", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = workspace(tmp_path_factory)
    short = _train(base, base / "lora_2steps", "--max-steps", "2")
    long = _train(base, base / "lora_4steps", "--max-steps", "4", "--save-every", "2", "--keep-last", "2")
    return base, short, long


def _logits(model_dir):
    model, processor = load_model(model_dir)
    model.eval()
    ids = torch.tensor([processor.tokenizer("图片里有什么？这是红色。")["input_ids"]])
    with torch.no_grad():
        return model.language_model(input_ids=ids).logits


def test_exported_checkpoint_equals_the_run_that_ended_there(runs, tmp_path):
    base, short, long = runs
    done = _cli("export-checkpoint", long, "--step", "2", "--out", tmp_path / "step2")
    assert done.returncode == 0, done.stderr
    exported, _ = load_model(tmp_path / "step2")
    final, _ = load_model(short / "final")
    before, _ = load_model(base / "model")
    got, want, old = exported.state_dict(), final.state_dict(), before.state_dict()
    assert set(got) == set(want)  # a plain model: adapters merged, no lora_ keys
    for key in want:
        assert torch.allclose(got[key], want[key], atol=1e-6), key
    assert any(not torch.equal(want[k], old[k]) for k in want if k.startswith("language_model.model.layers."))
    assert torch.allclose(_logits(tmp_path / "step2"), _logits(short / "final"), atol=1e-5)
    assert (tmp_path / "step2" / "tokenizer.json").is_file()


def test_export_checkpoint_refusals_are_one_line(runs, tmp_path):
    _, short, long = runs
    for args, needle in [
        ((long, "--step", "3", "--out", tmp_path / "x"), "no complete checkpoint at step 3 (there are: 2)"),
        ((short, "--out", tmp_path / "y"), "no complete checkpoint under"),
        ((long, "--out", long), "already exists"),
    ]:
        done = _cli("export-checkpoint", *args)
        assert done.returncode == 2 and needle in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_run_without_final_is_its_last_checkpoint(runs, tmp_path):
    _, _, long = runs
    assert resolve_model(long) == (long / "final", None)  # final/ (step 4) is newer than step 2
    cut = tmp_path / "cut_off"
    shutil.copytree(long, cut, ignore=shutil.ignore_patterns("final"))
    path, note = resolve_model(cut)
    assert path == cut / "exports" / "step-00000002" and "step 2 (no final/)" in note
    mtime = (path / "model.safetensors").stat().st_mtime_ns
    assert resolve_model(cut)[0] == path and (path / "model.safetensors").stat().st_mtime_ns == mtime  # reused
    assert resolve_model(cut / "checkpoints" / "step-00000002")[0] == path
    info = _cli("info", cut)
    assert info.returncode == 0 and "no final/" in info.stderr and "parameters per part" in info.stdout
    chat = subprocess.run(
        [sys.executable, "-m", "zqvl.cli.chat", str(cut), "你好", "--max-new-tokens", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert chat.returncode == 0 and "step 2 (no final/)" in chat.stderr, chat.stderr[-2000:]
    assert chat.stdout.strip()


def test_zero3_checkpoint_exports_the_same_weights(runs, tmp_path):
    """ZeRO-3 keeps only partitions: the export reassembles them (full training, not LoRA)."""
    base = runs[0]
    z3 = ["--train-type", "freeze_vision", "--zero-stage", "3"]
    one = _train(base, tmp_path / "z3_1", *z3, "--max-steps", "1")
    two = _train(base, tmp_path / "z3_2", *z3, "--max-steps", "2", "--save-every", "1")
    done = _cli("export-checkpoint", two / "checkpoints" / "step-00000001", "--out", tmp_path / "exported")
    assert done.returncode == 0, done.stderr
    got, want = load_model(tmp_path / "exported")[0].state_dict(), load_model(one / "final")[0].state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)

"""Real DeepSpeed runs (ZeRO-2, CPU, gloo): a tiny model memorises 8 samples; SIGKILL / SIGTERM + --resume
give the same losses bit for bit; two processes under torchrun; a NaN loss stops with a checkpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from helpers.train_helpers import MEMORISE, losses, memorised_run, train_cmd, workspace

from zqvl.model.build import load_model
from zqvl.train import checkpoint

pytestmark = pytest.mark.slow


def metrics(run):
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def test_loss_goes_down_memorising_8_samples(tmp_path_factory):
    run = memorised_run(tmp_path_factory)
    rows = metrics(run)
    assert [r["step"] for r in rows] == list(range(1, 31))
    loss = [r["loss"] for r in rows]
    assert sum(loss[-5:]) / 5 < 0.4 * sum(loss[:5]) / 5
    assert all(r["samples"] == 4 for r in rows)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit"] == 0 and summary["zero_stage"] == 2 and summary["precision"] == "fp32"
    assert summary["dropped"] == {} and summary["samples"] == 120
    # stage 2 preset: vision frozen, projector + LLM trained
    assert summary["trainable"]["vision"][0] == 0 and summary["trainable"]["llm"][0] == summary["trainable"]["llm"][1]
    # checkpoints every 10 steps, only the last 2 kept; tensorboard events; resolved config saved
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == ["step-00000010", "step-00000020"]
    assert list((run / "tb").glob("events.out.tfevents.*"))
    config = (run / "config.yaml").read_text()
    assert "lr: 0.005" in config and "train_type: freeze_vision" in config
    # the final model is a plain model dir with tokenizer + processor: loadable, usable for the next stage
    model, processor = load_model(run / "final")
    assert processor.num_image_tokens == 16 and (run / "final" / "tokenizer.json").is_file()


def _run_until(args, run, lines: int, sig: int) -> subprocess.CompletedProcess:
    """Start a training run, send `sig` once metrics.jsonl has `lines` steps, return the finished process."""
    proc = subprocess.Popen(train_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not ((run / "metrics.jsonl").exists() and len(metrics(run)) >= lines):
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.05)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_a_log_file_shows_progress_lines_while_the_run_goes(tmp_path_factory):
    """Under nohup/SLURM stdout and stderr are files: the run must be readable there before it ends."""
    base = workspace(tmp_path_factory)
    run, log = base / "logged", base / "logged.log"
    args = [*MEMORISE, "--model", base / "model", "--shards", base / "shards", "--out", run]
    env = {**os.environ, "ZQVL_PROGRESS_EVERY": "0"}  # a line per step (default: every 30 s)
    with open(log, "w") as fh:
        proc = subprocess.Popen(train_cmd(*args), stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            while not ((run / "metrics.jsonl").exists() and len(metrics(run)) >= 5):
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.05)
            mid_run = log.read_text()
            assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]
        finally:
            proc.kill()
    lines = [ln for ln in mid_run.splitlines() if ln.startswith("stage 2 ")]
    assert lines, mid_run[-2000:]
    assert re.match(
        r"stage 2 \d+/30 \(\d+%\) .*ETA .*loss=[\d.]+ lr=\S+ samples_s=\S+ tokens_s=\S+ wait=\d+%", lines[-1]
    )
    assert int(lines[-1].split()[2].split("/")[0]) < 30  # written while the run was still going


def test_kill_then_resume_gives_identical_losses(tmp_path_factory):
    reference = memorised_run(tmp_path_factory)
    base = workspace(tmp_path_factory)
    run = base / "interrupted"
    args = [*MEMORISE, "--model", base / "model", "--shards", base / "shards", "--out", run]

    # 1. SIGKILL after step 12: no chance to save; --resume goes back to the step-10 checkpoint and the
    #    metrics of steps 11.. are recomputed
    killed = _run_until(args, run, 12, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert checkpoint.latest(run / "checkpoints") == "step-00000010"
    # 2. resume, then SIGTERM after step 16: the run saves a checkpoint of the last finished step and exits 130
    stopped_run = _run_until(["--resume", "--out", run], run, 16, signal.SIGTERM)
    assert stopped_run.returncode == 130, stopped_run.stderr[-3000:]
    assert "resumed at 10" in stopped_run.stdout
    stopped = len(metrics(run))
    assert 16 <= stopped < 30
    assert f"stopped by SIGTERM after step {stopped}" in stopped_run.stderr and "--resume" in stopped_run.stderr
    assert checkpoint.complete_tags(run / "checkpoints") == ["step-00000010", f"step-{stopped:08d}"]
    assert not (run / "final").exists()
    # 3. resume to the end
    done = subprocess.run(train_cmd("--resume", "--out", run), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed at {stopped}" in done.stdout
    # the same records in the same order, the same LR, the same losses: bit-exact on CPU fp32
    got = [(r["step"], r["data"], r["lr"], r["loss"]) for r in metrics(run)]
    assert got == [(r["step"], r["data"], r["lr"], r["loss"]) for r in metrics(reference)]
    assert losses(run) == losses(reference)


PACKED = ["--stage", "2", "--max-steps", "8", "--batch-size", "1", "--max-len", "128", "--packing", "--lr", "5e-3"]
PACKED += ["--num-workers", "1", "--group-batches", "4", "--save-every", "4", "--no-tensorboard"]


def test_packed_run_fills_rows_and_resumes_bit_exact(tmp_path_factory):
    base = workspace(tmp_path_factory)
    common = [*PACKED, "--model", base / "model", "--shards", base / "shards"]
    reference = base / "packed"
    done = subprocess.run(train_cmd(*common, "--out", reference), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = metrics(reference)
    assert all(r["samples"] >= 2 for r in rows)  # one row of 128 tokens holds several ~45-token samples
    summary = json.loads((reference / "summary.json").read_text())
    assert summary["padding"] < 0.35 and summary["samples"] == sum(r["samples"] for r in rows)
    run = base / "packed_interrupted"
    killed = _run_until([*common, "--out", run], run, 6, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    resumed = subprocess.run(train_cmd("--resume", "--out", run), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed at 4" in resumed.stdout
    got = [(r["step"], r["data"], r["lr"], r["loss"], r["samples"]) for r in metrics(run)]
    assert got == [(r["step"], r["data"], r["lr"], r["loss"], r["samples"]) for r in rows]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_zero2_lora(tmp_path_factory):
    base = workspace(tmp_path_factory)
    run = base / "torchrun"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "zqvl.cli.train",
        "--stage",
        "2",
        "--train-type",
        "lora",
        "--lora-r",
        "4",
        "--lr",
        "1e-3",
        "--model",
        base / "model",
        "--shards",
        base / "shards",
        "--out",
        run,
        "--max-steps",
        "4",
        "--batch-size",
        "2",
        "--num-workers",
        "0",
        "--save-every",
        "2",
    ]
    done = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 4
    assert summary["samples"] == 4 * 2 * 2  # both ranks' micro-batches count
    ckpt = run / "checkpoints" / "step-00000002"
    assert (ckpt / "data_rank0.pt").is_file() and (ckpt / "data_rank1.pt").is_file()
    assert len(list(ckpt.glob("*optim_states.pt"))) == 2  # ZeRO-2: one optimizer partition per rank
    # the final model has the adapters merged: the projector and the LLM's 14 adapted linears changed, the
    # vision tower and everything else are bit-identical to the input model
    before, _ = load_model(base / "model")
    after, _ = load_model(run / "final")
    old, new = before.state_dict(), after.state_dict()
    assert set(old) == set(new)
    changed = {k for k in old if not torch.equal(old[k], new[k])}
    assert {k for k in changed if not k.startswith("projector.")} == {
        f"language_model.model.layers.{i}.{m}.weight"
        for i in range(2)
        for m in (
            "self_attn.q_proj",
            "self_attn.k_proj",
            "self_attn.v_proj",
            "self_attn.o_proj",
            "mlp.gate_proj",
            "mlp.up_proj",
            "mlp.down_proj",
        )
    }
    assert {k for k in old if k.startswith("projector.")} <= changed


def test_nan_loss_stops_with_checkpoint_and_message(tmp_path_factory):
    base = workspace(tmp_path_factory)
    run = base / "nan"
    done = subprocess.run(
        train_cmd(
            "--stage",
            "1",
            "--model",
            base / "model",
            "--shards",
            base / "shards",
            "--out",
            run,
            "--max-steps",
            "8",
            "--batch-size",
            "4",
            "--num-workers",
            "0",
            "--lr",
            "1e30",
            "--warmup-ratio",
            "0",
            "--grad-clip",
            "0",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 3, done.stderr[-3000:]
    rows = metrics(run)
    message = done.stderr.replace("\n", " ")
    assert f"at step {len(rows) + 1}" in message and "checkpoint" in message and "--resume" in message
    assert "loss is nan" in message or "loss is inf" in message
    assert (run / "checkpoints" / f"step-{len(rows):08d}" / "COMPLETE").is_file()
    assert not (run / "final").exists()


def test_filters_that_drop_most_records_stop_after_the_first_step(tmp_path_factory):
    """`--filters untranslated` on a set that is mostly English: exit 1 with the share, the reasons and the
    hint, instead of training on the few records left."""
    import json

    from helpers.train_helpers import make_shards, sample_dir

    base = workspace(tmp_path_factory)
    data = sample_dir(base / "mostly_english", n=16)
    records = json.loads((data / "chat.json").read_text(encoding="utf-8"))
    for r in records[4:]:
        r["conversations"][1]["value"] = "This picture shows a single solid colour and nothing else at all."
    (data / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    shards = make_shards(data, base / "mostly_english_shards", max_count=8)
    run = base / "filtered"
    args = ["--stage", "2", "--model", base / "model", "--shards", shards, "--out", run, "--max-steps", "20"]
    args += ["--batch-size", "2", "--num-workers", "0", "--filters", "untranslated"]
    done = subprocess.run(train_cmd(*args), capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-3000:]
    message = " ".join(done.stderr.split())
    assert "train dropped 12 of 16 records (75%): untranslated" in message, message[-2000:]
    assert "translate` first" in message and "stopped after step 1" in message
    assert json.loads((run / "summary.json").read_text())["exit"] == 1
    assert not (run / "final").exists()

"""Shared helpers for the trainer tests: a tiny model dir and small real WebDataset shards."""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image

COLORS = {
    "红色": (220, 30, 30),
    "绿色": (30, 200, 60),
    "蓝色": (30, 60, 220),
    "黄色": (230, 210, 40),
    "黑色": (10, 10, 10),
    "白色": (245, 245, 245),
    "紫色": (140, 40, 170),
    "橙色": (240, 140, 20),
}


def tiny_model(path: Path, vision: str = "tiny-clip") -> Path:
    from zqvl.model.build import build_model

    if not (path / "config.json").exists():
        build_model(vision, "tiny-qwen2", path)
    return path


def sample_dir(path: Path, n: int = 8, turns: int = 1, seed: int = 0) -> Path:
    """A canonical DIR of n records: a solid-colour image each, questions and answers about its colour."""
    rng = random.Random(seed)
    (path / "images").mkdir(parents=True, exist_ok=True)
    records = []
    names = list(COLORS)
    for i in range(n):
        colour = names[i % len(names)]
        img = f"img_{i:03d}.png"
        Image.new("RGB", (40 + rng.randint(0, 20), 40), COLORS[colour]).save(path / "images" / img)
        convs = []
        for k in range(turns):
            q = ("<image>\n" if k == 0 else "") + ["图片是什么颜色？", "再说一遍颜色。", "这是什么？"][k % 3]
            convs += [{"from": "human", "value": q}, {"from": "gpt", "value": f"这是{colour}。" * (1 + k % 2)}]
        records.append({"id": f"s{i:03d}", "image": img, "conversations": convs})
    (path / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def make_shards(data_dir: Path, out: Path, max_count: int = 4, val_fraction: float = 0.0) -> Path:
    from zqvl.data.shards.writer import ShardOptions, shard_dir

    if not (out / "manifest.json").exists():
        shard_dir(data_dir, out, ShardOptions(max_count=max_count, val_fraction=val_fraction), workers=0)
    return out


def losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}  # val_loss lines are separate


# The memorising run both test_train.py and test_chat.py use: stage 2 on 8 samples, 30 steps.
MEMORISE = [
    "--stage",
    "2",
    "--max-steps",
    "30",
    "--batch-size",
    "4",
    "--num-workers",
    "1",
    "--lr",
    "5e-3",
    "--warmup-ratio",
    "0.1",
    "--save-every",
    "10",
    "--keep-last",
    "2",
    "--group-batches",
    "2",
]


def train_cmd(*args) -> list[str]:
    import sys

    return [sys.executable, "-m", "zqvl.cli.train", *map(str, args)]


def workspace(tmp_path_factory) -> Path:
    """Tiny model + 8-sample shards, built once per test session."""
    base = tmp_path_factory.getbasetemp() / "train_ws"
    base.mkdir(exist_ok=True)
    tiny_model(base / "model")
    data = base / "data"
    if not (data / "chat.json").exists():
        sample_dir(data, n=8)
    make_shards(data, base / "shards", max_count=4)
    return base


def memorised_run(tmp_path_factory) -> Path:
    """RUN dir of the memorising run (trained once per session)."""
    import subprocess

    base = workspace(tmp_path_factory)
    run = base / "memorised"
    if not (run / "final" / "config.json").exists():
        done = subprocess.run(
            train_cmd(*MEMORISE, "--model", base / "model", "--shards", base / "shards", "--out", run),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return run

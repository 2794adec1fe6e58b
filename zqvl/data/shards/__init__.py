"""WebDataset shards: format (version, file names, member naming, Manifest), tar (reading/writing members),
prepare (one record -> members, in workers), writer (`zqvl-data shard`), reader (ShardStream, for training),
verify (`zqvl-data verify`).

Names are exported lazily, so `from zqvl.data.shards import shard_dir` does not import torch (only the
reader needs it) and worker processes stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "format": ("FORMAT", "MANIFEST", "PROGRESS", "SKIPPED", "Manifest", "ShardEntry", "SkippedSummary", "Split"),
    "writer": ("ShardOptions", "ShardResult", "parse_size", "shard_dir", "source_fingerprint"),
    "prepare": ("PrepareOptions", "in_val_split"),
    "reader": ("ShardStream", "SkipSample", "TokenBudgetFilter", "expand_shards"),
    "verify": ("ShardCheck", "VerifyResult", "verify_shards"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "FORMAT",
    "MANIFEST",
    "PROGRESS",
    "SKIPPED",
    "Manifest",
    "ShardEntry",
    "SkippedSummary",
    "Split",
    "ShardOptions",
    "ShardResult",
    "parse_size",
    "shard_dir",
    "source_fingerprint",
    "PrepareOptions",
    "in_val_split",
    "ShardStream",
    "SkipSample",
    "TokenBudgetFilter",
    "expand_shards",
    "ShardCheck",
    "VerifyResult",
    "verify_shards",
]

if TYPE_CHECKING:
    from zqvl.data.shards.format import FORMAT, MANIFEST, PROGRESS, SKIPPED, Manifest, ShardEntry, SkippedSummary, Split
    from zqvl.data.shards.prepare import PrepareOptions, in_val_split
    from zqvl.data.shards.reader import ShardStream, SkipSample, TokenBudgetFilter, expand_shards
    from zqvl.data.shards.verify import ShardCheck, VerifyResult, verify_shards
    from zqvl.data.shards.writer import ShardOptions, ShardResult, parse_size, shard_dir, source_fingerprint


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value

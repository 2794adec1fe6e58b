"""Data mixing: `--shards A:3 B:1` draws micro-batches from several sources by weight.

Each source is a TrainLoader of its own (its own stream, shuffle, epochs and drop counts; per-rank and per-worker
reads stay disjoint exactly as without mixing). The mixer decides which source gives the next micro-batch by
smooth weighted round-robin: at batch k it takes the source furthest below its share of k. That needs no random
numbers, so the mix after any k batches is within one batch of the weights, and the state (batches taken per
source + each source's own loader state) resumes at the exact next batch.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zqvl.errors import UsageError

MIX_VERSION = 1
_WEIGHTED = re.compile(r"^(?P<path>.+):(?P<weight>\d+(?:\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Source:
    pattern: str  # shard dir, tar or glob, as given without its weight
    weight: float


def split_weight(entry: str) -> tuple[str, float | None]:
    """ "shards/ocr:3" -> ("shards/ocr", 3.0); "shards/ocr" -> ("shards/ocr", None). A path that really exists
    with a ":3" in its name stays a path."""
    match = _WEIGHTED.match(str(entry))
    if not match or Path(entry).exists():
        return str(entry), None
    weight = float(match["weight"])
    if weight <= 0:
        raise UsageError(f"--shards {entry}: a weight must be > 0 (leave the source out instead)")
    return match["path"], weight


def plain_patterns(entries) -> list[str]:
    return [split_weight(e)[0] for e in entries]


def parse_sources(entries) -> list[Source] | None:
    """The sources to mix, or None when no entry has a weight (then all shards are one stream, as always).
    An entry without a weight among weighted ones weighs 1."""
    parsed = [split_weight(e) for e in entries]
    if all(w is None for _, w in parsed):
        return None
    patterns = [p for p, _ in parsed]
    repeated = sorted({p for p in patterns if patterns.count(p) > 1})
    if repeated:
        raise UsageError(f"--shards: {repeated[0]} is given twice; give each source once, with one weight")
    return [Source(p, 1.0 if w is None else w) for p, w in parsed]


def mix_label(sources: list[Source]) -> str:
    return " ".join(f"{s.pattern}:{s.weight:g}" for s in sources)


class MixedLoader:
    """Micro-batches from several loaders by weight; the TrainLoader interface (next, state_dict,
    load_state_dict, stats, read, close)."""

    def __init__(self, sources: list[Source], loaders: list):
        self.sources, self.loaders = sources, loaders
        total = sum(s.weight for s in sources)
        self.shares = [s.weight / total for s in sources]
        self.taken = [0] * len(sources)

    @property
    def batches(self) -> int:
        return sum(self.taken)

    def _pick(self) -> int:
        k = self.batches + 1
        return max(range(len(self.sources)), key=lambda i: (self.shares[i] * k - self.taken[i], -i))

    def __iter__(self) -> MixedLoader:
        return self

    def __next__(self) -> Any:
        i = self._pick()
        batch = next(self.loaders[i])
        self.taken[i] += 1
        return batch

    @property
    def read(self) -> int:
        return sum(loader.read for loader in self.loaders)

    def close(self) -> None:
        for loader in self.loaders:
            loader.close()

    def stats(self) -> dict:
        """As TrainLoader.stats() over all sources, plus per source: weight, batches, samples, epoch."""
        per = [loader.stats() for loader in self.loaders]
        dropped: Counter = Counter()
        for s in per:
            dropped.update(s["dropped"])
        return {
            "samples": sum(s["samples"] for s in per),
            "dropped": dict(sorted(dropped.items())),
            "sources": {
                src.pattern: {"weight": src.weight, "batches": n, "samples": s["samples"], "epoch": s["epoch"]}
                for src, n, s in zip(self.sources, self.taken, per)
            },
        }

    def state_dict(self) -> dict:
        return {
            "mix_version": MIX_VERSION,
            "mix": mix_label(self.sources),
            "taken": list(self.taken),
            "sources": [loader.state_dict() for loader in self.loaders],
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("mix_version") != MIX_VERSION:
            raise UsageError(
                "the checkpoint was written without weighted --shards (or by another zqvl); "
                "resume with the --shards it was written with"
            )
        if state["mix"] != mix_label(self.sources):
            raise UsageError(
                f"the checkpoint mixes {state['mix']}, this run {mix_label(self.sources)}; "
                "resume with the same --shards and weights"
            )
        for loader, saved in zip(self.loaders, state["sources"], strict=True):
            loader.load_state_dict(saved)
        self.taken = list(state["taken"])


def merge_mix(per_rank: list[dict | None]) -> dict | None:
    """The mix achieved over all ranks, from each rank's stats()["sources"] (None without mixing)."""
    if not per_rank or per_rank[0] is None:
        return None
    total = sum(s["samples"] for rank in per_rank for s in rank.values()) or 1
    merged = {}
    for name, first in per_rank[0].items():
        samples = sum(rank[name]["samples"] for rank in per_rank)
        merged[name] = {
            "weight": first["weight"],
            "batches": sum(rank[name]["batches"] for rank in per_rank),
            "samples": samples,
            "share": samples / total,
            "epoch": 1 + max(rank[name]["epoch"] for rank in per_rank),  # the one it is in, from 1
        }
    return merged

"""Hugging Face `datasets` interop for shard dirs.

`datasets.load_dataset("webdataset")` infers its columns from the first five samples of the first tar and
refuses a set whose samples differ in members (png and jpg, two images, text-only), which zqvl's sets do. So
every shard dir carries the schema that inference would have guessed, for the whole set:

- `README.md`, a dataset card whose YAML header names the splits' files and the features (one column per
  member suffix the manifest counted: `json`, `jpg`, `png`, `0.jpg`, ...). `load_dataset(DIR)` and the Hub
  read it, so every record loads with its images; a sample lacking a member has None there.
- `features(DIR)` returns the same Features for `load_dataset("webdataset", data_files=..., features=...)`.
- `to_hf_dataset(DIR)` is the record view for `push_to_hub`: one row per record, `images` a list of
  `datasets.Image` in the record's order, `conversations` as turns, `record` the canonical JSON (lossless).

`datasets` is imported lazily: nothing else in zqvl needs it at import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from zqvl.data.shards.format import IMAGE_EXTS, MANIFEST, Manifest, image_members
from zqvl.data.shards.tar import iter_samples

CARD = "README.md"
HF_SPLIT = {"train": "train", "val": "validation"}  # the Hub's split names
_TURN = {"from": "string", "value": "string", "source": "string"}


def member_columns(layouts: dict[str, int]) -> list[str]:
    """Every member suffix in the manifest's layouts ("jpg+json", "0.jpg+1.png+json", ...), json first, then
    single images, then numbered ones in order."""
    suffixes = {s for layout in layouts for s in layout.split("+")}
    images = image_members(sorted(s for s in suffixes if s.rpartition(".")[2].lower() in IMAGE_EXTS))
    return ["json"] + images


def _features(columns: Sequence[str]):
    from datasets import Features, Image, List, Value

    turn = {k: Value(v) for k, v in _TURN.items()}
    spec = {"json": {"id": Value("string"), "conversations": List(turn)}, "__key__": Value("string")}
    spec.update({c: Image() for c in columns if c != "json"})
    return Features(spec)


def features(shard_dir: str | Path):
    """The `datasets.Features` of a shard dir written by zqvl-data shard (from its manifest)."""
    return _features(member_columns(Manifest.read(shard_dir).layouts))


def card_text(manifest: Manifest) -> str:
    """README.md for a shard dir: YAML header (data files per split, features) and how to load it."""
    import datasets
    import yaml

    files = [
        {"split": HF_SPLIT.get(name, name), "path": [s.file for s in part.shards]}
        for name, part in manifest.splits.items()
        if part.shards
    ]
    info = datasets.DatasetInfo(features=_features(member_columns(manifest.layouts)))._to_yaml_dict()
    header = {
        "configs": [{"config_name": "default", "data_files": files}],
        "dataset_info": {"config_name": "default", **info},
    }
    counts = ", ".join(f"{part.samples} {name}" for name, part in manifest.splits.items())
    return (
        "---\n"
        + yaml.safe_dump(header, sort_keys=False, allow_unicode=True)
        + "---\n\n"
        + f"# {manifest.name}\n\n"
        + f"WebDataset shards written by `zqvl-data shard` ({counts} samples; {MANIFEST} has the details).\n"
        + "Each sample is `KEY.json` (the canonical record) and its images (`KEY.jpg`, or `KEY.0.jpg`, "
        + "`KEY.1.png`, ... for several).\n\n"
        + "```python\n"
        + "import datasets\n"
        + "ds = datasets.load_dataset(DIR)                   # this card's columns: every sample, every image\n"
        + "from zqvl.data import to_hf_dataset\n"
        + "rows = to_hf_dataset(DIR)                         # one row per record, images as a list\n"
        + "```\n"
    )


def _records(urls: Sequence[str], stamp: Sequence = ()) -> Iterator[dict]:
    """`stamp` (size and mtime of each tar) is unused here: it makes datasets' cache key change when a shard
    dir is rewritten in place, so a stale cached copy is never returned."""

    def skip(code: str, message: str) -> None:  # damaged members: skipped here as the trainer skips them
        pass

    for url in urls:
        for sample in iter_samples(url, skip):
            record = json.loads(sample.members["json"])
            turns = [{k: t.get(k) for k in _TURN} for t in record.get("conversations", [])]
            images = [{"bytes": sample.members[s], "path": f"{sample.key}.{s}"} for s in image_members(sample.members)]
            yield {
                "id": record.get("id"),
                "images": images,
                "conversations": turns,
                "record": json.dumps(record, ensure_ascii=False),
            }


def to_hf_dataset(shards: str | Path | Sequence[str], split: str = "train", cache_dir: str | None = None):
    """A `datasets.Dataset` of the records in a shard dir's split (or a list / pattern of tars): columns
    id, images (list of datasets.Image, in the record's order), conversations (from, value, source) and
    record (the canonical JSON). Ready for `push_to_hub`."""
    from datasets import Dataset, Features, Image, List, Value

    from zqvl.data.shards.reader import expand_shards

    if isinstance(shards, Path):
        shards = str(shards)
    urls = expand_shards(shards, split="val" if split in ("val", "validation") else split)
    turn = {k: Value(v) for k, v in _TURN.items()}
    schema = Features(
        {"id": Value("string"), "images": List(Image()), "conversations": List(turn), "record": Value("string")}
    )
    stamp = [(u, (st := os.stat(u)).st_size, st.st_mtime_ns) for u in urls]
    kwargs = {"urls": list(urls), "stamp": stamp}
    return Dataset.from_generator(_records, gen_kwargs=kwargs, features=schema, cache_dir=cache_dir)


def write_card(out: Path, manifest: Manifest) -> None:
    from zqvl.data.io import atomic_open

    with atomic_open(out / CARD) as fh:
        fh.write(card_text(manifest))

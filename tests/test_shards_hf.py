"""Shard dirs load in Hugging Face `datasets` with every record and image, mixed layouts included."""

from __future__ import annotations

import json

import pytest
from helpers.shardkit import make_dataset

from zqvl.data import hf_features, to_hf_dataset
from zqvl.data.shards.format import Manifest, image_members
from zqvl.data.shards.hf import CARD, member_columns
from zqvl.data.shards.writer import ShardOptions, shard_dir

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """png + jpg + two-image + text-only + nested-path records, a val split, small shards."""
    root = tmp_path_factory.mktemp("hf")
    made = make_dataset(root / "src", 35, broken=False)
    shard_dir(root / "src", root / "out", ShardOptions(max_count=6, val_fraction=0.2))
    return root, made


def source_images(made: dict, record: dict) -> list[bytes]:
    rels = record.get("image", [])
    return [made["files"][r] for r in ([rels] if isinstance(rels, str) else rels)]


def test_member_columns_cover_every_layout():
    layouts = {"json": 2, "jpg+json": 5, "json+png": 1, "0.jpg+1.png+json": 3, "0.png+1.jpg+2.jpg+json": 1}
    assert member_columns(layouts) == ["json", "jpg", "png", "0.jpg", "0.png", "1.jpg", "1.png", "2.jpg"]


def test_load_dataset_dir_reads_the_card_every_record_every_image(mixed, tmp_path):
    root, made = mixed
    out = root / "out"
    manifest = Manifest.read(out)
    assert (
        len(manifest.layouts) >= 4 and manifest.splits["val"].samples > 0 and (out / CARD).is_file()
    )  # the set really is mixed
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert {s: len(ds[s]) for s in ds} == {
        "train": manifest.splits["train"].samples,
        "validation": manifest.splits["val"].samples,
    }
    seen = {}
    for split in ds:
        part = ds[split]
        images = [c for c in part.column_names if c not in ("json", "__key__")]
        for c in images:
            part = part.cast_column(c, datasets.Image(decode=False))
        for row in part:
            present = {c: row[c]["bytes"] for c in images if row[c] is not None}
            seen[row["json"]["id"]] = [present[c] for c in image_members(present)]
            assert (
                row["json"]["conversations"][0]["value"] == made["good"][row["json"]["id"]]["conversations"][0]["value"]
            )
    assert set(seen) == set(made["good"])
    for rid, record in made["good"].items():
        assert seen[rid] == source_images(made, record), rid  # the bytes the user had, in the record's order


def test_webdataset_builder_with_zqvl_features(mixed, tmp_path):
    root, made = mixed
    out = root / "out"
    manifest = Manifest.read(out)
    files = {
        "train": [str(out / s.file) for s in manifest.splits["train"].shards],
        "validation": [str(out / s.file) for s in manifest.splits["val"].shards],
    }
    ds = datasets.load_dataset(
        "webdataset", data_files=files, features=hf_features(out), cache_dir=str(tmp_path / "cache")
    )
    ids = [r["id"] for s in ds for r in ds[s]["json"]]
    assert sorted(ids) == sorted(made["good"]) and len(ids) == len(set(ids))


def test_to_hf_dataset_one_row_per_record_with_its_images(mixed, tmp_path):
    root, made = mixed
    out = root / "out"
    rows = to_hf_dataset(out, cache_dir=str(tmp_path / "cache"))
    val = to_hf_dataset(out, split="val", cache_dir=str(tmp_path / "cache"))
    assert len(rows) + len(val) == len(made["good"])
    rows = rows.cast_column("images", datasets.List(datasets.Image(decode=False)))
    kinds = set()
    for row in rows:
        record = made["good"][row["id"]]
        assert json.loads(row["record"]) == record  # lossless
        assert [i["bytes"] for i in row["images"]] == source_images(made, record)
        assert [t["value"] for t in row["conversations"]] == [t["value"] for t in record["conversations"]]
        kinds.add(len(row["images"]))
    assert kinds == {0, 1, 2}
    decoded = to_hf_dataset(out, cache_dir=str(tmp_path / "cache"))
    first = next(r for r in decoded if r["images"])
    assert first["images"][0].size[0] >= 40  # PIL images when decoded


def test_a_rewritten_dir_is_not_served_from_the_cache(tmp_path):
    make_dataset(tmp_path / "a", 7, broken=False)
    make_dataset(tmp_path / "b", 14, broken=False, seed=1)
    cache = str(tmp_path / "cache")
    shard_dir(tmp_path / "a", tmp_path / "out", ShardOptions())
    assert len(to_hf_dataset(tmp_path / "out", cache_dir=cache)) == 7
    import shutil

    shutil.rmtree(tmp_path / "out")
    shard_dir(tmp_path / "b", tmp_path / "out", ShardOptions())
    assert len(to_hf_dataset(tmp_path / "out", cache_dir=cache)) == 14

"""Crafted shards whose manifest was rehashed, so only the per-member and per-sample checks can catch them:
unsafe member names, non-regular members, a .json nested 100,000 deep, a JPEG header claiming 65,000 x
65,000 pixels. `zqvl-data verify` reports each as a problem of its shard and goes on; the training reader
skips and counts each, never aborting or hanging. Plus the fast image check of `zqvl-data shard` on tiny
images."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.shardkit import jpeg_claiming, make_dataset, noise_image

from zqvl.data.shards.format import MANIFEST, Manifest
from zqvl.data.shards.reader import ShardStream
from zqvl.data.shards.tar import iter_samples
from zqvl.data.shards.verify import verify_shards
from zqvl.data.shards.writer import ShardOptions, shard_dir

QA = [{"from": "human", "value": "<image>\n这是什么？"}, {"from": "gpt", "value": "一只猫。"}]
GOOD_JPEG = noise_image(random.Random(1), "JPEG", (40, 32))


def _json(rid: str, image: bool = True) -> bytes:
    rec = {
        "id": rid,
        "conversations": QA if image else [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "你好"}],
    }
    if image:
        rec["image"] = f"{rid}.jpg"
    return json.dumps(rec, ensure_ascii=False).encode()


def _file(tar: tarfile.TarFile, name: str, data: bytes, **pax) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    if pax:
        info.pax_headers = pax
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, kind: bytes, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    tar.addfile(info)


CASES = {
    # name: (members writer, the problem code verify must report, the reason the reader counts)
    "dotdot": (lambda t: _file(t, "../../x.json", _json("x", image=False)), "unsafe_member_name", "unsafe_member_name"),
    "absolute": (
        lambda t: _file(t, "/abs/y.json", _json("y", image=False)),
        "unsafe_member_name",
        "unsafe_member_name",
    ),
    "pax_path": (
        lambda t: _file(t, "ok.json", _json("ok", image=False), path="../../z.json"),
        "unsafe_member_name",
        "unsafe_member_name",
    ),
    "symlink": (
        lambda t: (_link(t, "s.jpg", tarfile.SYMTYPE, "/etc/passwd"), _file(t, "s.json", _json("s"))),
        "non_regular_member",
        "non_regular_member",
    ),
    "hardlink": (
        lambda t: (_link(t, "h.jpg", tarfile.LNKTYPE, "/etc/passwd"), _file(t, "h.json", _json("h"))),
        "non_regular_member",
        "non_regular_member",
    ),
    "deep_json": (lambda t: _file(t, "d.json", b"[" * 100_000 + b"]" * 100_000), "bad .json", "bad_json"),
    "bomb": (
        lambda t: (_file(t, "b.jpg", jpeg_claiming(65_000, 65_000)), _file(t, "b.json", _json("b"))),
        "image.bomb",
        "image.bomb",
    ),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    make_dataset(root, 6, broken=False, jpeg_only=True)
    out = tmp_path_factory.mktemp("shards") / "demo"
    shard_dir(root, out, ShardOptions(max_count=100))
    return out


def _craft(base: Path, tmp_path: Path, write) -> tuple[Path, str]:
    """A copy of `base` whose only shard is a crafted tar (one good sample, then the hostile members),
    with the manifest rehashed so size, sha256 and sample counts all agree."""
    out = tmp_path / "demo"
    out.mkdir()
    manifest = Manifest.read(base)
    entry = manifest.splits["train"].shards[0]
    tar_path = out / entry.file
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        _file(tar, "000000000_good.jpg", GOOD_JPEG)
        _file(tar, "000000000_good.json", _json("good").replace(b'"good.jpg"', b'"x.jpg"'))
        write(tar)
    for name in ("skipped.jsonl",):
        if (base / name).exists():
            (out / name).write_bytes((base / name).read_bytes())
    samples = sum(1 for _ in iter_samples(str(tar_path), lambda code, msg: None))
    data = tar_path.read_bytes()
    entry = replace(entry, samples=samples, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    splits = {"train": replace(manifest.splits["train"], shards=[entry], samples=samples)}
    manifest = replace(manifest, splits=splits, samples=samples)
    (out / MANIFEST).write_text(json.dumps(manifest.to_json()), encoding="utf-8")
    return out, entry.file


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_reports_crafted_members(base, tmp_path, case):
    write, problem, _ = CASES[case]
    out, _ = _craft(base, tmp_path, write)
    result = verify_shards(out)
    assert not result.ok
    assert any(problem in p for p in result.problems), result.problems
    assert not any("sha256" in p or "samples read" in p for p in result.problems)  # only the new checks


@pytest.mark.parametrize("case", sorted(CASES))
def test_reader_skips_and_counts_crafted_members(base, tmp_path, case):
    write, _, reason = CASES[case]
    out, _ = _craft(base, tmp_path, write)
    stream = ShardStream(out, shuffle_buffer=1, rank=0, world_size=1, shuffle_shards=False)
    stats: Counter = Counter()
    kept = [s for _, s in stream.iter_worker(0, 0, 1, stats=stats) if s is not None]
    assert [rec.id for rec, _ in kept] == ["good"]
    assert stats[reason] >= 1, stats


def test_crafted_tar_never_writes_outside(base, tmp_path):
    out, _ = _craft(base, tmp_path, CASES["dotdot"][0])
    verify_shards(out)
    list(ShardStream(out, shuffle_buffer=1, rank=0, world_size=1).iter_worker(0, 0, 1))
    assert not (tmp_path.parent / "x.json").exists() and not (tmp_path / "x.json").exists()


def test_shard_skips_tiny_images_in_the_fast_check(tmp_path):
    root = tmp_path / "src"
    make_dataset(root, 3, broken=False, jpeg_only=True)
    values = json.loads((root / "chat.json").read_text())
    (root / "images" / "tiny.jpg").write_bytes(noise_image(random.Random(2), "JPEG", (5, 5)))
    (root / "images" / "tiny.png").write_bytes(noise_image(random.Random(3), "PNG", (5, 5)))
    values += [
        {"id": "tiny_jpg", "image": "tiny.jpg", "conversations": QA},
        {"id": "tiny_png", "image": "tiny.png", "conversations": QA},
    ]
    (root / "chat.json").write_text(json.dumps(values, ensure_ascii=False))
    out = tmp_path / "demo"
    shard_dir(root, out, ShardOptions())
    skipped = {
        json.loads(line)["id"]: json.loads(line)["reason"] for line in (out / "skipped.jsonl").read_text().splitlines()
    }
    assert skipped == {"tiny_jpg": "image.tiny", "tiny_png": "image.tiny"}

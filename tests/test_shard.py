"""`zqvl-data shard` / `verify`: round trip, reproducibility, strict bounds, kill -9 + --resume, val split,
datasets/webdataset compatibility, and verify catching damage."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import webdataset as wds
from helpers.shardkit import jpeg_claiming, make_dataset, png_header_only, tree
from PIL import Image

from zqvl.cli.data import _main as zqvl_data
from zqvl.data.shards.format import image_members
from zqvl.data.shards.prepare import in_val_split
from zqvl.data.shards.tar import iter_samples
from zqvl.data.shards.writer import ShardOptions, parse_size, shard_dir
from zqvl.progress import Progress
from zqvl.ui import run_cli


def read_all(out: Path) -> dict[str, tuple[str, dict]]:
    """key -> (tar file, {suffix: bytes}) over every shard of both splits, via our reader."""
    samples = {}
    for tar in sorted(out.glob("*.tar")) + sorted(out.glob("val/*.tar")):
        for s in iter_samples(str(tar), lambda code, msg: pytest.fail(msg)):
            assert s.key not in samples
            samples[s.key] = (str(tar.relative_to(out)), s.members)
    return samples


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    return root, make_dataset(root, 60)


def test_round_trip_every_record_and_byte(data, tmp_path):
    root, expect = data
    out = tmp_path / "shards" / "demo"
    result = shard_dir(root, out, ShardOptions(max_count=7, val_fraction=0.25), workers=2)
    samples = read_all(out)
    by_id = {json.loads(m["json"])["id"]: (key, tar, m) for key, (tar, m) in samples.items()}
    assert set(by_id) == set(expect["good"])
    for rid, (key, tar, members) in by_id.items():
        record = json.loads(members["json"])
        assert record == expect["good"][rid]  # conversations, source, extras
        assert "." not in key and "/" not in key
        assert tar.startswith("val/") == in_val_split(rid, 0.25)
        names = image_members(members)
        images = record.get("image", [])
        images = [images] if isinstance(images, str) else images
        assert [members[n] for n in names] == [expect["files"][rel] for rel in images]  # original bytes
        if len(images) > 1:
            assert names == ["0.jpg", "1.png"]
        elif images:
            assert names == [Path(images[0]).suffix[1:]]
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {row["id"]: row["reason"] for row in skipped} == expect["bad"]
    assert all(row["id"] in row["message"] for row in skipped)
    m = result.manifest
    assert m.records == len(expect["good"]) + len(expect["bad"])
    assert m.samples == len(expect["good"]) == sum(p.samples for p in m.splits.values())
    assert m.skipped.by_reason == {r: list(expect["bad"].values()).count(r) for r in set(expect["bad"].values())}
    for part in m.splits.values():
        for info in part.shards:
            assert info.samples <= 7 and (out / info.file).stat().st_size == info.bytes
    assert not [p for p in out.rglob(".*")]  # no temp / progress files left


def test_tars_are_what_webdataset_tarwriter_writes(data, tmp_path):
    root, _ = data
    out = tmp_path / "demo"
    shard_dir(root, out, ShardOptions(max_count=10))
    for tar in sorted(out.glob("*.tar")):
        buf = io.BytesIO()
        with wds.TarWriter(buf, user="zqvl", group="zqvl", mtime=0, mode=0o444, encoder=False) as w:
            for s in iter_samples(str(tar), lambda code, msg: pytest.fail(msg)):
                w.write({"__key__": s.key, **s.members})
        assert buf.getvalue() == tar.read_bytes(), tar.name


def test_plain_webdataset_reads_every_sample(data, tmp_path):
    root, expect = data
    out = tmp_path / "demo"
    shard_dir(root, out, ShardOptions(max_count=9))
    ds = wds.WebDataset(sorted(str(p) for p in out.glob("*.tar")), shardshuffle=False).decode("pil")
    seen = {}
    for s in ds:
        images = [v for k, v in s.items() if k.rsplit(".", 1)[-1] in ("jpg", "png")]
        assert all(isinstance(im, Image.Image) for im in images)
        seen[s["json"]["id"]] = len(images)
    assert seen == {
        rid: len(r["image"]) if isinstance(r.get("image"), list) else int("image" in r)
        for rid, r in expect["good"].items()
    }


def test_datasets_load_dataset_webdataset(tmp_path):
    import datasets

    root = tmp_path / "src"
    expect = make_dataset(root, 12, broken=False, jpeg_only=True)
    out = tmp_path / "demo"
    shard_dir(root, out, ShardOptions(max_count=5))
    ds = datasets.load_dataset(
        "webdataset",
        data_files={"train": sorted(str(p) for p in out.glob("*.tar"))},
        split="train",
        cache_dir=str(tmp_path / "hf"),
    )
    assert len(ds) == 12
    for row in ds:
        rid = row["json"]["id"]
        assert row["json"]["conversations"] == expect["good"][rid]["conversations"]
        original = Image.open(io.BytesIO(expect["files"][expect["good"][rid]["image"]]))
        assert row["jpg"].size == original.size


def test_two_runs_byte_identical_whatever_the_workers(data, tmp_path):
    root, _ = data
    options = ShardOptions(max_count=5, max_size=parse_size("30K"), val_fraction=0.2)
    shard_dir(root, tmp_path / "a" / "demo", options, workers=0)
    shard_dir(root, tmp_path / "b" / "demo", options, workers=2)
    first, second = tree(tmp_path / "a" / "demo"), tree(tmp_path / "b" / "demo")
    assert first == second and len(first) > 5


def test_max_size_is_a_strict_bound(data, tmp_path):
    root, expect = data
    limit = parse_size("24K")
    result = shard_dir(root, tmp_path / "demo", ShardOptions(max_size=limit))
    shards = result.manifest.split("train").shards
    assert len(shards) > 3
    assert all(s.bytes <= limit for s in shards)
    assert sum(s.samples for s in shards) == len(expect["good"])


def test_resize_keeps_aspect_and_small_images(tmp_path):
    root = tmp_path / "src"
    expect = make_dataset(root, 14, broken=False, size=(60, 30))
    (root / "images" / "small.png").write_bytes(expect["files"]["0002.png"])
    out = tmp_path / "demo"
    shard_dir(root, out, ShardOptions(resize=32, max_count=100))
    for _, members in read_all(out).values():
        record = json.loads(members["json"])
        rels = record.get("image", [])
        for name, rel in zip(image_members(members), [rels] if isinstance(rels, str) else rels):
            before = Image.open(io.BytesIO(expect["files"][rel]))
            after = Image.open(io.BytesIO(members[name]))
            assert after.format == before.format and name.endswith("jpg" if before.format == "JPEG" else "png")
            assert max(after.size) == 32
            assert abs(after.size[0] / after.size[1] - before.size[0] / before.size[1]) < 0.1
    shard_dir(root, tmp_path / "big", ShardOptions(resize=1000))
    assert {json.loads(m["json"])["id"]: m for _, m in read_all(tmp_path / "big").values()}["rec_0002"][
        "png"
    ] == expect["files"]["0002.png"]  # never enlarged, never re-encoded


def test_image_format_jpg_makes_members_uniform(data, tmp_path):
    root, expect = data
    result = shard_dir(root, tmp_path / "demo", ShardOptions(image_format="jpg"))
    assert set(result.manifest.layouts) == {"jpg+json", "0.jpg+1.jpg+json", "json"}


def cli(*argv: str) -> int:
    return run_cli(zqvl_data, list(argv))


def test_cli_refuses_to_overwrite_and_checks_resume_options(data, tmp_path, capsys):
    root, _ = data
    out = str(tmp_path / "demo")
    assert cli("shard", str(root), "--out", out, "--max-count", "8", "--workers", "0") == 0
    assert cli("shard", str(root), "--out", out, "--max-count", "8") == 2
    assert "already holds finished shards" in capsys.readouterr().err
    assert cli("shard", str(root), "--out", out, "--max-count", "9", "--resume") == 2
    assert "other options" in capsys.readouterr().err
    assert cli("shard", str(root), "--out", out, "--max-count", "8", "--resume") == 0
    assert "already complete" in capsys.readouterr().out
    assert cli("shard", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")) == 2
    assert "no chat.json" in capsys.readouterr().err


def test_kill_9_mid_run_then_resume_is_identical(tmp_path, capsys):
    root = tmp_path / "src"
    make_dataset(root, 500, size=(28, 28))
    args = ["--max-count", "3", "--val-fraction", "0.1", "--workers", "1"]
    reference = tmp_path / "ref" / "demo"
    assert cli("shard", str(root), "--out", str(reference), *args) == 0

    out = tmp_path / "run" / "demo"
    exe = [sys.executable, "-m", "zqvl.cli.data", "shard", str(root), "--out", str(out), *args]
    proc = subprocess.Popen(exe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(list(out.glob("*.tar"))) < 10 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the run finished before it could be killed"
    assert (out / ".progress.json").exists()
    ref = tree(reference)
    finished = list(out.glob("*.tar")) + list(out.glob("val/*.tar"))
    assert len(finished) >= 10
    for tar in finished:  # whatever has a final name is complete
        assert tar.read_bytes() == ref[str(tar.relative_to(out))]
    assert cli("shard", str(root), "--out", str(out), *args) == 2  # refuses without --resume
    capsys.readouterr()
    assert cli("shard", str(root), "--out", str(out), *args, "--resume") == 0
    resumed = re.search(r"resumed\s+at\s+record\s+(\d+)", capsys.readouterr().out)
    assert resumed and int(resumed.group(1)) > 0
    assert tree(out) == ref


def test_interrupted_twice_then_resumed_is_identical(tmp_path):
    root = tmp_path / "src"
    make_dataset(root, 400, size=(28, 28))
    options = ShardOptions(max_count=4, val_fraction=0.3)
    reference = tmp_path / "ref" / "demo"
    shard_dir(root, reference, options)
    out = tmp_path / "run" / "demo"

    class stop_at(Progress):
        def __init__(self, n):
            self.n = n

        def update(self, done=None, total=None, **fields):
            if done >= self.n:
                raise KeyboardInterrupt

    for stop in (128, 256):
        with pytest.raises(KeyboardInterrupt):
            shard_dir(root, out, options, workers=2, resume=True, progress=stop_at(stop))
        assert not (out / "manifest.json").exists() and not list(out.rglob(".*.tmp"))
    result = shard_dir(root, out, options, resume=True)
    assert 0 < result.resumed_at < 256
    assert tree(out) == tree(reference)


def test_verify_passes_then_catches_damage(data, tmp_path, capsys):
    root, _ = data
    out = tmp_path / "demo"
    shard_dir(root, out, ShardOptions(max_count=10, val_fraction=0.2))
    assert cli("verify", str(out), "--workers", "2") == 0
    tar = sorted(out.glob("*.tar"))[1]
    raw = bytearray(tar.read_bytes())
    raw[700] ^= 0xFF  # inside the first member's data
    tar.write_bytes(bytes(raw))
    (out / "stray.tar").write_bytes(b"")
    capsys.readouterr()
    assert cli("verify", str(out), "--decode") == 1
    report = capsys.readouterr().out
    assert "sha256 differs" in report and "stray.tar" in report
    sorted(out.glob("*.tar"))[0].unlink()
    assert cli("verify", str(out)) == 1
    assert "missing" in capsys.readouterr().out
    assert cli("verify", str(tmp_path)) == 2


def test_val_split_is_by_id_hash():
    ids = [f"r{i}" for i in range(2000)]
    val = [i for i in ids if in_val_split(i, 0.1)]
    assert 140 < len(val) < 260 and val == [i for i in ids if in_val_split(i, 0.1)]
    assert not any(in_val_split(i, 0.0) for i in ids)


@pytest.mark.parametrize(
    "name, data, image_check",
    [
        ("bomb.png", png_header_only(40_000, 40_000), "fast"),  # past Pillow's own guard too
        ("bomb.png", png_header_only(40_000, 40_000), "full"),
        ("big.png", png_header_only(8_000, 8_000), "fast"),  # 64M pixels: only our 50M limit stops it
        ("big.png", png_header_only(8_000, 8_000), "full"),
        ("bomb.jpg", jpeg_claiming(40_000, 40_000), "fast"),  # caught by the JPEG frame-header look
        ("big.jpg", jpeg_claiming(8_000, 8_000), "full"),
    ],
)
def test_decompression_bomb_is_skipped_with_its_reason(tmp_path, capsys, name, data, image_check):
    root = tmp_path / "src"
    expect = make_dataset(root, 6, broken=False)
    (root / "images" / name).write_bytes(data)
    values = json.loads((root / "chat.json").read_text(encoding="utf-8"))
    values.insert(
        2,
        {
            "id": "the_bomb",
            "image": name,
            "conversations": [
                {"from": "human", "value": "<image>\n这是什么？"},
                {"from": "gpt", "value": "一张很大的图。"},
            ],
        },
    )
    (root / "chat.json").write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "demo"
    assert cli("shard", str(root), "--out", str(out), "--workers", "0", "--image-check", image_check) == 0
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(row["id"], row["reason"]) for row in skipped] == [("the_bomb", "image.bomb")]
    assert {json.loads(m["json"])["id"] for _, m in read_all(out).values()} == set(expect["good"])
    assert json.loads((out / "manifest.json").read_text())["skipped"]["by_reason"] == {"image.bomb": 1}


def test_importing_every_zqvl_module_leaves_pillow_settings_alone():
    code = """
import importlib, pkgutil, PIL.Image, PIL.ImageFile, zqvl
before = PIL.Image.MAX_IMAGE_PIXELS, PIL.ImageFile.LOAD_TRUNCATED_IMAGES
names = [m.name for m in pkgutil.walk_packages(zqvl.__path__, "zqvl.") if not m.name.endswith("__main__")]
for n in names:
    importlib.import_module(n)
assert (PIL.Image.MAX_IMAGE_PIXELS, PIL.ImageFile.LOAD_TRUNCATED_IMAGES) == before == (89478485, False), \
    (before, PIL.Image.MAX_IMAGE_PIXELS, PIL.ImageFile.LOAD_TRUNCATED_IMAGES)
print(len(names))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 40  # it did walk the package

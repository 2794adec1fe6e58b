"""The shard format: Manifest round trip, every reader refusing another format version with one line naming
the file, the tar header table, and the package's exports."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from helpers.shardkit import make_dataset

import zqvl.data.shards as shards_pkg
from zqvl.cli.data import _main as zqvl_data
from zqvl.data.shards.format import FORMAT, Manifest
from zqvl.data.shards.reader import ShardStream, expand_shards
from zqvl.data.shards.tar import BLOCK, CHKSUM, MAGIC, NAME, SIZE, USTAR, header
from zqvl.data.shards.verify import verify_shards
from zqvl.data.shards.writer import ShardOptions, shard_dir
from zqvl.errors import UsageError
from zqvl.train.loader import count_samples
from zqvl.ui import run_cli


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    make_dataset(root, 12)
    return root


@pytest.fixture()
def out(src, tmp_path) -> Path:
    out = tmp_path / "demo"
    shard_dir(src, out, ShardOptions(max_count=4, val_fraction=0.3))
    return out


def test_manifest_round_trip(out):
    text = (out / "manifest.json").read_text(encoding="utf-8")
    m = Manifest.read(out)
    assert json.dumps(m.to_json(), ensure_ascii=False, indent=1) + "\n" == text  # same bytes, same key order
    assert Manifest.from_json(json.loads(text)) == m
    train, val = m.split("train"), m.split("val")
    assert m.samples == train.samples + val.samples == 12 and m.records == 12 + 7  # + 7 broken records
    assert train.samples == sum(s.samples for s in train.shards) and len(train.shards) == 1 + (train.samples - 1) // 4
    assert [s.file for s in val.shards] == [f"val/demo-val-{i:06d}.tar" for i in range(len(val.shards))]
    assert m.skipped.count == 7 and m.format == FORMAT and m.name == "demo" and m.path == out / "manifest.json"


def rewrite(out: Path, **changes) -> Path:
    path = out / "manifest.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    for k, v in changes.items():
        if v is None:
            del obj[k]
        else:
            obj[k] = v
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def one_line_error(call) -> str:
    with pytest.raises(UsageError) as e:
        call()
    assert "\n" not in str(e.value)
    return str(e.value)


def test_another_format_version_is_refused_by_every_reader(out, capsys):
    path = rewrite(out, format="zqvl-shards/2")
    message = one_line_error(lambda: Manifest.read(out))
    assert message.startswith(f"{path}: shard format 'zqvl-shards/2'") and repr(FORMAT) in message
    assert one_line_error(lambda: verify_shards(out)) == message
    assert one_line_error(lambda: ShardStream(out, rank=0, world_size=1)) == message
    assert one_line_error(lambda: expand_shards(out, split="val")) == message
    assert one_line_error(lambda: count_samples([str(out)])) == message
    assert run_cli(zqvl_data, ["verify", str(out)]) == 2
    assert capsys.readouterr().err.count(str(path)) == 1


def test_resume_refuses_another_format_version(src, out, capsys):
    rewrite(out, format="zqvl-shards/0")
    argv = ["shard", str(src), "--out", str(out), "--max-count", "4", "--val-fraction", "0.3", "--resume"]
    assert run_cli(zqvl_data, argv) == 2
    assert "shard format 'zqvl-shards/0'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"format": None}, "no shard format version"),
        ({"splits": None}, "not a zqvl shard manifest (no 'splits' field)"),
        ({"splits": [1, 2]}, "not a zqvl shard manifest"),
    ],
)
def test_malformed_manifests_name_the_file(out, changes, expected):
    path = rewrite(out, **changes)
    assert one_line_error(lambda: Manifest.read(out)).startswith(f"{path}: {expected}")


def test_missing_or_unparsable_manifest(out):
    path = out / "manifest.json"
    path.write_text("{oops", encoding="utf-8")
    assert one_line_error(lambda: Manifest.read(out)).startswith(f"{path}: not JSON")
    path.unlink()
    assert one_line_error(lambda: Manifest.read(out)) == f"{path}: not found (not a zqvl-data shard output dir)"
    (out / ".progress.json").write_text("{}", encoding="utf-8")
    assert "zqvl-data shard --resume" in one_line_error(lambda: verify_shards(out))


def test_no_such_split_names_the_manifest(src, tmp_path):
    out = tmp_path / "trainonly"
    shard_dir(src, out, ShardOptions())
    assert (
        one_line_error(lambda: Manifest.read(out).split("val"))
        == f"{out / 'manifest.json'}: no 'val' split (it has train)"
    )


def test_ustar_fields_tile_the_header_as_tarfile_writes_it():
    fields = list(USTAR.values())
    assert fields[0].offset == 0 and fields[-1].end == 500 and 500 <= BLOCK
    assert all(a.end == b.offset for a, b in zip(fields, fields[1:]))
    info = tarfile.TarInfo("000000001_x.json")
    info.size = 1234
    block = info.tobuf(tarfile.USTAR_FORMAT)
    assert block[NAME.span].rstrip(b"\0") == b"000000001_x.json"
    assert int(block[SIZE.span].rstrip(b"\0"), 8) == 1234
    assert block[MAGIC.span] + block[USTAR["version"].span] == tarfile.POSIX_MAGIC
    chk = int(block[CHKSUM.span].split(b"\0")[0], 8)
    assert chk == sum(block[: CHKSUM.offset]) + 8 * 32 + sum(block[CHKSUM.end :])
    assert header("a.json", 7)[SIZE.span] == b"%011o\0" % 7


def test_package_exports_resolve():
    assert sorted(shards_pkg.__all__) == sorted(shards_pkg._WHERE)
    assert shards_pkg.shard_dir is shard_dir and shards_pkg.Manifest is Manifest  # lazily, the same objects
    for name in shards_pkg.__all__:
        getattr(shards_pkg, name)  # a typo in the table raises here
    with pytest.raises(AttributeError):
        shards_pkg.no_such_name  # noqa: B018

"""Image paths that escape DIR/images/ through symbolic links, and non-regular files (a FIFO) under images/:
every command names them with their code (image.unsafe_path, image.not_a_file), never opens, links or
packs them, and never hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.datadir import jpeg_bytes, make_dir, record

from zqvl.data.io import ImageRoot
from zqvl.data.validate import validate_dir

GOOD = jpeg_bytes((64, 48))


def hostile_dir(tmp_path: Path) -> Path:
    """DIR with one good record and one record per escape."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(GOOD)
    d = make_dir(
        tmp_path / "d",
        [
            record("good", "a.jpg"),
            record("root", "root/etc/passwd"),
            record("link", "link.png"),
            record("subdir", "sub/secret.png"),
        ],
        {"a.jpg": GOOD},
    )
    os.symlink("/", d / "images" / "root")
    os.symlink("../../outside/secret.png", d / "images" / "link.png")
    os.symlink(str(outside), d / "images" / "sub")
    return d


def test_image_root_resolves_only_regular_files_inside(tmp_path):
    d = hostile_dir(tmp_path)
    os.mkfifo(d / "images" / "pipe.jpg")
    os.symlink("a.jpg", d / "images" / "alias.jpg")  # a link to a sibling is fine
    root = ImageRoot(d / "images")
    assert root.resolve("a.jpg") == (str((d / "images" / "a.jpg").resolve()), None)
    assert root.resolve("alias.jpg")[0] == str((d / "images" / "a.jpg").resolve())
    for rel in ("root/etc/passwd", "link.png", "sub/secret.png", "../chat.json", "/etc/passwd"):
        path, problem = root.resolve(rel)
        assert path is None and problem[0] == "image.unsafe_path", rel
    assert "outside" in root.resolve("link.png")[1][1]  # the message names the link's target
    assert root.resolve("pipe.jpg")[1][0] == "image.not_a_file"
    assert root.resolve("root")[1][0] == "image.unsafe_path"
    os.mkdir(d / "images" / "dir.jpg")
    assert root.resolve("dir.jpg")[1][0] == "image.not_a_file"
    assert root.resolve("nope.jpg")[1][0] == "image.missing"


def test_images_dir_itself_a_symlink_is_judged_by_its_real_dir(tmp_path):
    real = tmp_path / "store"
    real.mkdir()
    (real / "a.jpg").write_bytes(GOOD)
    (tmp_path / "elsewhere.jpg").write_bytes(GOOD)
    os.symlink("../elsewhere.jpg", real / "out.jpg")
    d = tmp_path / "d"
    d.mkdir()
    os.symlink(str(real), d / "images")
    (d / "chat.json").write_text(json.dumps([record("ok", "a.jpg"), record("out", "out.jpg")]))
    res = validate_dir(d)
    assert [(i.id, i.code) for i in res.issues] == [("out", "image.unsafe_path")]


def test_validate_names_every_escape(tmp_path):
    res = validate_dir(hostile_dir(tmp_path))
    assert sorted((i.id, i.code) for i in res.issues) == [
        ("link", "image.unsafe_path"),
        ("root", "image.unsafe_path"),
        ("subdir", "image.unsafe_path"),
    ]


def test_convert_never_links_a_file_from_outside(tmp_path):
    from zqvl.data.convert import convert

    d = hostile_dir(tmp_path)
    out = tmp_path / "out"
    stats = convert("llava", d, out, image_root=d / "images")
    assert stats.skipped == {"image.unsafe_path": 3} and stats.written == 1
    assert sorted(str(p.relative_to(out / "images")) for p in (out / "images").rglob("*")) == ["a.jpg"]
    codes = [json.loads(line)["code"] for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert codes == ["image.unsafe_path"] * 3


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    code = "import sys; from zqvl.cli.data import _main; from zqvl.ui import run_cli; sys.exit(run_cli(_main, sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, env=env)


def test_fifo_never_hangs_validate(tmp_path):
    d = make_dir(tmp_path / "d", [record("good", "a.jpg"), record("pipe", "pipe.jpg")], {"a.jpg": GOOD})
    os.mkfifo(d / "images" / "pipe.jpg")
    report = tmp_path / "r.jsonl"
    done = _run(["validate", str(d), "--report", str(report), "--workers", "1"])  # TimeoutExpired = a hang
    assert done.returncode == 1, done.stderr
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["id"], r["code"]) for r in rows] == [("pipe", "image.not_a_file")]


def test_fifo_and_links_never_reach_clean_output(tmp_path):
    d = hostile_dir(tmp_path)
    values = json.loads((d / "chat.json").read_text())
    values.append(record("pipe", "pipe.jpg"))
    (d / "chat.json").write_text(json.dumps(values))
    os.mkfifo(d / "images" / "pipe.jpg")
    out = tmp_path / "clean"
    done = _run(["clean", str(d), "--out", str(out)])
    assert done.returncode in (0, 1), done.stderr
    rejected = {
        json.loads(line)["id"]: json.loads(line)["reasons"]
        for line in (out / "rejected.jsonl").read_text().splitlines()
    }
    assert rejected["pipe"] == ["image.not_a_file"]
    for rid in ("root", "link", "subdir"):
        assert "image.unsafe_path" in rejected[rid]
    files = [p for p in (out / "images").rglob("*")]
    assert all(not p.is_symlink() for p in files)
    assert {str(p.relative_to(out / "images")) for p in files if p.is_file()} <= {"a.jpg"}


def test_a_missing_images_dir_is_one_line_in_every_command(tmp_path, capsys):
    """Not one image.missing per record: one usage error (exit 2) naming the folder, and no output."""
    import shutil

    from zqvl.cli.data import _main as data_main
    from zqvl.ui import run_cli

    d = make_dir(tmp_path / "d", [record(f"r{i}", "a.jpg") for i in range(5)], {"a.jpg": GOOD})
    shutil.rmtree(d / "images")
    for argv in (["validate", d], ["shard", d, "--out", tmp_path / "s"], ["clean", d, "--out", tmp_path / "c"]):
        assert run_cli(data_main, [str(a) for a in argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{d / 'images'}: no such directory" in err and "'a.jpg'" in err, argv
        assert not (tmp_path / "s").exists()
        assert not (tmp_path / "c").exists()
    text_only = make_dir(tmp_path / "t", [record("t0", None)], {})
    shutil.rmtree(text_only / "images")
    assert run_cli(data_main, ["validate", str(text_only)]) == 0  # no image named: no folder needed

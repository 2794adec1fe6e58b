"""`zqvl-data clean` end to end: every record accounted for, atomic outputs, images, dedupe, --explain, errors."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from test_clean_cases import CLEAN, DEFECTS, rec

from zqvl.cli.data import main

NEAR_DUP_ANSWER = (
    "一只橘色的猫蜷缩在蓝色毯子上睡觉，尾巴绕在鼻子前面，阳光洒在它的背上。",
    "An orange cat is curled up asleep on a blue blanket, its tail around its nose and sunlight on its back.",
)


def draw(path: Path, seed: int, size=(160, 120)) -> None:
    """A distinct picture per seed: random background and shapes."""
    rng = random.Random(seed)
    im = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(6):
        x, y = rng.randrange(size[0] - 20), rng.randrange(size[1] - 20)
        d.ellipse(
            (x, y, x + rng.randrange(10, 60), y + rng.randrange(10, 60)),
            fill=tuple(rng.randrange(256) for _ in range(3)),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "PNG" if path.suffix == ".png" else "JPEG", quality=90)


def build_set(root: Path) -> list:
    """Hard negatives, planted defects, near-duplicates, a shared image and broken records, as raw JSON values."""
    values = [copy for _, _, copy in CLEAN + DEFECTS]
    values += [
        rec("dup-a", ("描述这张图片。", "Describe this image."), NEAR_DUP_ANSWER),
        rec("dup-b", ("这张照片里有什么？", "What is in this photo?"), NEAR_DUP_ANSWER),  # answer dup
        rec("img-a", ("这是什么？", "What is this?"), ("一张色彩斑斓的抽象画。", "A colorful abstract painting.")),
        rec(
            "img-b",
            ("图里是什么？", "What is in the picture?"),
            ("这是一幅由许多彩色圆点组成的画。", "It is a painting made of many colored dots."),
        ),  # image dup
        rec(
            "same-file",
            ("画的主色调是什么？", "What is the main color of the painting?"),
            ("主要是暖色调。", "Mostly warm colors."),
            image="img-a.jpg",
        ),  # same file
        rec("no-image-file", ("这是什么？", "What is this?"), ("一只鸟。", "A bird."), image="absent.jpg"),
        rec("escape", ("这是什么？", "What is this?"), ("一只鸟。", "A bird."), image="../outside.jpg"),
    ]
    values.insert(5, "not a record")
    values.insert(9, {"conversations": [{"from": "human", "value": "<image>\n没有id"}], "image": "x.jpg"})
    values.append(dict(values[0]))  # the same id again
    (root / "images").mkdir(parents=True)
    for i, v in enumerate(values):
        if (
            isinstance(v, dict)
            and isinstance(v.get("image"), str)
            and v.get("id") not in (None, "same-file", "no-image-file", "escape")
        ):
            draw(root / "images" / v["image"], i)
        elif isinstance(v, dict) and isinstance(v.get("image"), list):
            for j, name in enumerate(v["image"]):
                draw(root / "images" / name, 1000 + 10 * i + j)
    with Image.open(root / "images" / "img-a.jpg") as im:  # img-b: a smaller, re-compressed copy of img-a
        im.resize((130, 98)).save(root / "images" / "img-b.jpg", "JPEG", quality=70)
    (root / "chat.json").write_text(json.dumps(values, ensure_ascii=False, indent=1), encoding="utf-8")
    return values


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    values = build_set(root / "in")
    with pytest.raises(SystemExit) as e:
        main(["clean", str(root / "in"), "--out", str(root / "out")])
    assert e.value.code == 0
    out = root / "out"
    kept = json.loads((out / "chat.json").read_text(encoding="utf-8"))
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    return values, root, kept, {r["id"]: r for r in rejected}, rejected


def _id(value, index):
    return value["id"] if isinstance(value, dict) and isinstance(value.get("id"), str) else f"#{index}"


def test_every_input_record_lands_in_exactly_one_output(cleaned):
    values, _, kept, by_id, rejected = cleaned
    assert len(kept) + len(rejected) == len(values)
    kept_ids = [k["id"] for k in kept]
    # Only the id that the input itself used twice is on both sides (first kept, second rejected).
    assert len(set(kept_ids)) == len(kept_ids) and set(kept_ids) & set(by_id) == {values[0]["id"]}
    for i, v in enumerate(values[:-1]):  # the last value repeats values[0]'s id
        assert _id(v, i) in by_id or _id(v, i) in kept_ids
    for r in rejected:
        assert r["reasons"] and all(isinstance(c, str) and c for c in r["reasons"])
        assert set(r["detail"]) == set(r["reasons"]) and all(r["detail"].values())


def test_kept_records_are_written_back_unchanged(cleaned):
    values, _, kept, _, _ = cleaned
    originals = {v["id"]: v for v in values[:-1] if isinstance(v, dict) and "id" in v}
    for k in kept:
        assert k == originals[k["id"]]


def test_outcomes(cleaned):
    values, _, kept, by_id, _ = cleaned
    kept_ids = {k["id"] for k in kept}
    assert {rid for _, _, r in CLEAN for rid in [r["id"]]} <= kept_ids
    assert {r["id"] for _, _, r in DEFECTS} <= set(by_id)
    assert by_id["#5"]["reasons"] == ["structure.not_object"]
    assert by_id["#9"]["reasons"] == ["structure.missing_id"]
    assert "structure.duplicate_id" in by_id[values[0]["id"]]["reasons"]
    assert values[0]["id"] in kept_ids  # the first of the two is kept
    assert by_id["dup-b"]["reasons"] == ["dedupe.answer"] and "dup-a" in by_id["dup-b"]["detail"]["dedupe.answer"]
    assert by_id["img-b"]["reasons"] == ["dedupe.image"] and "img-a" in by_id["img-b"]["detail"]["dedupe.image"]
    assert {"dup-a", "img-a", "same-file"} <= kept_ids  # one file asked about twice is not a duplicate
    assert by_id["no-image-file"]["reasons"] == ["image.missing"]
    assert by_id["escape"]["reasons"] == ["image.unsafe_path"]


def test_images_of_kept_records_are_linked(cleaned):
    _, root, kept, by_id, _ = cleaned
    out_images = root / "out" / "images"
    expected = {
        name for k in kept for name in ([k["image"]] if isinstance(k.get("image"), str) else k.get("image", []))
    }
    assert {p.name for p in out_images.iterdir()} == expected
    some = next(iter(expected))
    assert os.path.samefile(out_images / some, root / "in" / "images" / some)  # a hard link, not a copy
    assert not (out_images / "x01.jpg").exists()


def test_no_temporary_files_left(cleaned):
    _, root, _, _, _ = cleaned
    names = {p.name for p in (root / "out").iterdir()}
    assert names == {"chat.json", "rejected.jsonl", "report.html", "images", ".zqvl-output.json"}
    assert sorted(p.name for p in root.iterdir()) == ["in", "out"]  # no temp dir or lock beside it


def test_rerun_replaces_outputs_and_is_deterministic(cleaned, tmp_path):
    _, root, _, _, _ = cleaned
    before = {n: (root / "out" / n).read_bytes() for n in ("chat.json", "rejected.jsonl")}
    with pytest.raises(SystemExit) as e:
        main(["clean", str(root / "in"), "--out", str(root / "out")])
    assert e.value.code == 2  # a finished output is replaced only on request
    with pytest.raises(SystemExit) as e:
        main(["clean", str(root / "in"), "--out", str(root / "out"), "--force"])
    assert e.value.code == 0
    assert before == {n: (root / "out" / n).read_bytes() for n in ("chat.json", "rejected.jsonl")}


def test_explain_reports_each_check(cleaned, capsys):
    _, root, _, _, _ = cleaned
    with pytest.raises(SystemExit) as e:
        main(["clean", str(root / "in"), "--explain", "x24"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "x24" in text and "REJECTED" in text and "numbers.missing" in text and "12.50" in text
    for check in ("structure", "placeholder", "ocr", "script", "length_outlier", "dedupe answers"):
        assert check in text
    with pytest.raises(SystemExit):
        main(["clean", str(root / "in"), "--explain", "c01"])
    assert "KEPT" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["clean", str(root / "in"), "--explain", "dup-b"])
    assert "dup-a" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--explain", "nope"], "no record with id 'nope'"),
        ([], "--out DIR is required"),
        (["--out", "{in}"], "is the input directory"),
        (["--config", "{in}/missing.yaml", "--out", "{tmp}/o"], "cannot read config"),
    ],
)
def test_usage_errors_exit_2_with_one_line(cleaned, tmp_path, capsys, args, message):
    _, root, _, _, _ = cleaned
    args = [a.format(**{"in": root / "in", "tmp": tmp_path}) for a in args]
    with pytest.raises(SystemExit) as e:
        main(["clean", str(root / "in"), *args])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unreadable_input_exits_2(tmp_path, capsys):
    (tmp_path / "chat.json").write_text('[{"id": "a", "conversations": [', encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["clean", str(tmp_path), "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and "invalid JSON in record #0" in capsys.readouterr().err
    assert not (tmp_path / "o" / "chat.json").exists()


def test_interrupted_run_leaves_no_outputs(cleaned, tmp_path, monkeypatch):
    """A crash while writing leaves neither half files nor temp files in the output directory."""
    _, root, _, _, _ = cleaned
    from zqvl.data.clean import reporting

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(reporting.SampleCollector, "__call__", boom)
    with pytest.raises(SystemExit) as e:
        main(["clean", str(root / "in"), "--out", str(tmp_path / "o")])
    assert e.value.code == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no temp dir, no lock


def test_records_are_named_by_record_label(tmp_path):
    """Unparseable records are named as schema.record_label names them; an id with a newline still writes."""
    from zqvl.data.clean.config import load_config
    from zqvl.data.clean.runner import clean

    ok = rec("line\nbreak", ("这是什么？", "What is this?"), ("一只猫。", "A cat."), image=None)
    values = [
        ok,
        {"id": 7, "conversations": "oops"},
        {"id": "tab\there", "conversations": "oops"},
        {"id": "  ", "conversations": "oops"},
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "chat.json").write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    clean(tmp_path / "in", tmp_path / "out", load_config())
    kept = json.loads((tmp_path / "out" / "chat.json").read_text(encoding="utf-8"))
    rejected = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert [k["id"] for k in kept] == ["line\nbreak"]
    assert [r["id"] for r in rejected] == ["7", repr("tab\there"), "#3"]


def test_images_placed_during_the_scan_are_taken_back_for_records_rejected_later(tmp_path):
    """Images are placed while records are examined; a record rejected by a set-level check (here an answer
    duplicate) gets its images taken back out, and the folder that leaves empty goes too, unless a kept
    record shows the same file."""
    root = tmp_path / "in"
    values = [
        rec("first", ("描述这张图片。", "Describe this image."), NEAR_DUP_ANSWER, image="kept/a.jpg"),
        rec("copy-own-image", ("这张照片里有什么？", "What is in this photo?"), NEAR_DUP_ANSWER, image="gone/b.jpg"),
        rec("copy-shared-image", ("图里有什么？", "What is in the picture?"), NEAR_DUP_ANSWER, image="kept/a.jpg"),
    ]
    for i, name in enumerate(("kept/a.jpg", "gone/b.jpg")):
        draw(root / "images" / name, 50 + i)
    (root / "chat.json").write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["clean", str(root), "--out", str(tmp_path / "out"), "--workers", "1", "--max-drop", "1"])
    assert e.value.code == 0
    rejected = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reasons"]) for r in rejected] == [
        ("copy-own-image", ["dedupe.answer"]),
        ("copy-shared-image", ["dedupe.answer"]),
    ]
    out_images = tmp_path / "out" / "images"
    assert sorted(str(p.relative_to(out_images)) for p in out_images.rglob("*")) == ["kept", "kept/a.jpg"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")) == [".zqvl-output.json"]


def test_few_collections_nests_and_gives_the_collector_back_as_it_was():
    import gc

    from zqvl.data.clean.examine import GC_THRESHOLDS, few_collections, settle

    before = gc.get_threshold()
    with few_collections():
        frozen = gc.get_freeze_count()
        assert frozen > 0 and gc.get_threshold() == GC_THRESHOLDS
        with few_collections():  # scan() inside clean(): the inner one changes nothing
            assert gc.get_freeze_count() == frozen and gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() == frozen
        kept = [[i] for i in range(1000)]  # what a chunk leaves alive: settled, never walked again
        settle()
        assert gc.get_freeze_count() >= frozen + len(kept)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    settle()  # outside a scan it freezes nothing
    assert gc.get_freeze_count() == 0

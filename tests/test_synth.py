"""`zqvl-data synth`: deterministic bytes, a valid canonical DIR, and injected defects that `clean` catches."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers.shardkit import tree

from zqvl.cli.data import _main
from zqvl.data.synth import synthesize
from zqvl.data.synth_defects import FAMILIES
from zqvl.errors import UsageError
from zqvl.ui import run_cli

# The world's answers are templated, so clean's set-level near-duplicate checks reject identical facts
# about different pictures by design; translation defects are what this set measures.
NO_DEDUPE = "dedupe:\n  answers: {enabled: false}\n  images: {enabled: false}\n"


def _synth(tmp_path, name, *args):
    out = tmp_path / name
    assert _main(["synth", "--out", str(out), *map(str, args)]) == 0
    return out


def test_same_args_same_bytes_other_seed_differs(tmp_path):
    a = _synth(tmp_path, "a", "--records", 40, "--seed", 3, "--defects", 0.3)
    b = _synth(tmp_path, "b", "--records", 40, "--seed", 3, "--defects", 0.3)
    c = _synth(tmp_path, "c", "--records", 40, "--seed", 4, "--defects", 0.3)
    assert tree(a) == tree(b)
    assert len([k for k in tree(a) if k.startswith("images/")]) == 40
    assert tree(a)["chat.json"] != tree(c)["chat.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dir left behind


def test_refuses_existing_nonempty_dir_and_bad_args(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(UsageError, match="not empty"):
        synthesize(tmp_path / "full", 5, 0)
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    assert run_cli(_main, ["synth", "--out", str(tmp_path / "full"), "--records", "5"]) == 2
    with pytest.raises(UsageError, match="--defects"):
        synthesize(tmp_path / "d", 5, 0, defects=1.5)
    (tmp_path / "empty").mkdir()
    synthesize(tmp_path / "empty", 3, 0)  # an empty dir is fine
    assert len(json.loads((tmp_path / "empty" / "chat.json").read_text(encoding="utf-8"))) == 3


def test_clean_set_validates(tmp_path):
    out = _synth(tmp_path, "clean", "--records", 60, "--seed", 1, "--world", "rich")
    assert _main(["validate", str(out)]) == 0
    records = json.loads((out / "chat.json").read_text(encoding="utf-8"))
    assert json.loads((out / "labels.json").read_text()) == {}
    # every turn keeps its English; one <image> opens the first question; styles all present
    assert all(t.get("source") for r in records for t in r["conversations"])
    assert all(r["conversations"][0]["value"].startswith("<image>\n") for r in records)
    questions = Counter(r["conversations"][0]["source"].split("\n", 1)[1] for r in records)
    assert any("caption" in q for q in questions) and any("detail" in q for q in questions)
    assert any(len(r["conversations"]) > 2 for r in records)


def test_labels_name_exactly_the_changed_records(tmp_path):
    plain = _synth(tmp_path, "plain", "--records", 80, "--seed", 7, "--world", "rich")
    bad = _synth(tmp_path, "bad", "--records", 80, "--seed", 7, "--defects", 0.5, "--world", "rich")
    before = {r["id"]: r for r in json.loads((plain / "chat.json").read_text(encoding="utf-8"))}
    after = {r["id"]: r for r in json.loads((bad / "chat.json").read_text(encoding="utf-8"))}
    labels = json.loads((bad / "labels.json").read_text(encoding="utf-8"))
    changed = {rid for rid in before if before[rid] != after[rid]}
    assert changed == set(labels) and len(labels) == 40
    assert set(labels.values()) <= set(FAMILIES)
    for rid in changed:  # only values change, never the English sources or the image
        assert [t["source"] for t in before[rid]["conversations"]] == [t["source"] for t in after[rid]["conversations"]]
    assert tree(plain)["images/synth_000000.png"] == tree(bad)["images/synth_000000.png"]


def test_clean_rejects_injected_defects(tmp_path):
    data = _synth(tmp_path, "data", "--records", 400, "--seed", 11, "--defects", 0.5, "--world", "rich")
    config = tmp_path / "no_dedupe.yaml"
    config.write_text(NO_DEDUPE)
    out = tmp_path / "cleaned"
    assert _main(["clean", str(data), "--out", str(out), "--config", str(config)]) == 0
    labels = json.loads((data / "labels.json").read_text(encoding="utf-8"))
    rejected = {}
    for line in (out / "rejected.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rejected[row["id"]] = row["reasons"]
    caught, total = Counter(), Counter(labels.values())
    for rid, family in labels.items():
        caught[family] += rid in rejected
    recall = {f: caught[f] / total[f] for f in total}
    # Measured (seed 11): 1.0 for every family except numbers (~0.75: the 三 of 三角形 reads as "three")
    # and answered (~0.1: clean has no check for a question answered instead of translated).
    assert sum(caught.values()) / sum(total.values()) >= 0.85, recall
    assert all(recall[f] >= 0.95 for f in total if f not in ("numbers", "answered")), recall
    assert recall["numbers"] >= 0.6, recall
    ids = [r["id"] for r in json.loads((data / "chat.json").read_text(encoding="utf-8"))]
    clean_ids = [rid for rid in ids if rid not in labels]
    kept = sum(rid not in rejected for rid in clean_ids) / len(clean_ids)
    assert kept >= 0.97, Counter(r for rid in clean_ids for r in rejected.get(rid, []))


def test_caption_world_answers_name_what_is_drawn(tmp_path):
    """The default world: one object per 32 px picture, and the answer is exactly its colour and shape."""
    import io

    from PIL import Image

    from zqvl.data.synth import COLOURS, SHAPES

    out = _synth(tmp_path, "world", "--records", 30, "--seed", 2)
    assert _main(["validate", str(out)]) == 0
    by_answer = {f"{c[1]}的{s[2]}": (c[2], s[0]) for c in COLOURS.values() for s in SHAPES.values()}
    files = tree(out)
    for r in json.loads(files["chat.json"]):
        question, answer = r["conversations"]
        assert question["value"].startswith("<image>\n") and answer["value"] in by_answer
        rgb, shape = by_answer[answer["value"]]
        assert answer["source"] == f"a {[k for k, v in COLOURS.items() if v[2] == rgb][0]} {shape}"
        image = Image.open(io.BytesIO(files[f"images/{r['image']}"])).convert("RGB")
        assert image.size == (32, 32)
        # the object covers the middle of the picture (jitter is at most ±12 per channel)
        assert all(abs(a - b) <= 12 for a, b in zip(image.getpixel((16, 18)), rgb)), (r["id"], answer["value"])

"""Near-duplicate indexes: character n-gram MinHash-LSH for answers, pHash + colour for images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from zqvl.data.clean.config import load_config
from zqvl.data.clean.decisions import Decision
from zqvl.data.clean.dedupe import (
    AnswerIndex,
    ImageIndex,
    answer_text,
    dedupe_indexes,
    image_signature,
    lsh_bands,
    numbers_key,
)
from zqvl.data.clean.imagesig import signatures_of, thumbnail
from zqvl.data.clean.keepfirst import keep_first
from zqvl.data.schema import parse_record

SHIPPED = load_config()["dedupe"]


def answer_index(**override) -> AnswerIndex:
    p = {**SHIPPED["answers"], **override}
    return AnswerIndex(p["threshold"], p["ngram"], p["num_perm"], p["min_chars"])


def image_index(**override) -> ImageIndex:
    p = {**SHIPPED["images"], **override}
    return ImageIndex(p["max_distance"], p["max_color_diff"], p["same_file_is_duplicate"])


BASE = (
    "黄昏时分热闹的街头集市，一串串暖黄色的灯泡照亮了四周。两旁的摊位出售水果、烤串和手工包。人们在摊位间慢慢地走着。"
)


def norm(text: str) -> str:
    return answer_text(
        parse_record({"id": "x", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": text}]})
    )


def test_answer_index_finds_near_duplicates_only():
    idx = answer_index()
    assert idx.add(0, norm(BASE)) == []
    assert [k for k, _ in idx.add(1, norm(BASE.replace("手工包", "手工编织包")))] == [0]  # one phrase differs
    assert [k for k, _ in idx.add(2, norm(BASE.replace("，", "、")))] == [0, 1]  # punctuation only
    assert idx.add(3, norm("两支足球队正在阳光照耀的球场上比赛，一名身穿红色球衣的球员正准备踢球。")) == []
    assert idx.add(4, norm("这件衬衫售价29.99美元，下周打八折，门店和网店同价销售。")) == []
    assert (
        idx.add(5, norm("这件衬衫售价39.99美元，下周打八折，门店和网店同价销售。")) == []
    )  # other numbers: other facts
    assert idx.add(6, norm("不是。")) == [] and idx.add(7, norm("不是。")) == []  # too short to judge


def test_answer_text_ignores_punctuation_case_and_questions():
    rec = {
        "id": "a",
        "conversations": [
            {"from": "human", "value": "Q"},
            {"from": "gpt", "value": "Hello, World！"},
            {"from": "human", "value": "Q2"},
            {"from": "gpt", "value": "ＯＫ"},
        ],
    }
    assert answer_text(parse_record(rec)) == "helloworldok"


def _drawing(path, colours, size=(200, 160)):
    im = Image.new("RGB", size, colours[0])
    d = ImageDraw.Draw(im)
    d.rectangle((20, 20, 90, 140), fill=colours[1])
    d.ellipse((110, 30, 180, 100), fill=colours[2])
    im.save(path, quality=90)


def test_image_signature_matches_reencoded_copies_but_not_recoloured_layouts(tmp_path):
    _drawing(tmp_path / "a.jpg", [(240, 240, 230), (200, 40, 40), (40, 80, 200)])
    with Image.open(tmp_path / "a.jpg") as im:
        im.resize((120, 96)).save(tmp_path / "small.jpg", quality=60)
        im.resize((640, 512)).save(tmp_path / "big.png")
    _drawing(tmp_path / "b.jpg", [(240, 240, 230), (40, 160, 60), (230, 200, 40)])  # same layout, other colours
    idx = image_index()
    sigs = {n: image_signature(str(tmp_path / n)) for n in ("a.jpg", "small.jpg", "big.png", "b.jpg")}
    assert idx.add(0, ("a.jpg",), [sigs["a.jpg"]]) == []
    assert idx.add(1, ("small.jpg",), [sigs["small.jpg"]]) == [0]
    assert idx.add(2, ("big.png",), [sigs["big.png"]]) == [0, 1]
    assert bin(sigs["a.jpg"][0] ^ sigs["b.jpg"][0]).count("1") <= 6  # pHash alone would call it a copy
    assert idx.add(3, ("b.jpg",), [sigs["b.jpg"]]) == []  # the colour grid does not


@pytest.mark.parametrize("brute_force_max", [ImageIndex.BRUTE_FORCE_MAX, 0])
def test_image_index_search_paths_agree(monkeypatch, brute_force_max):
    monkeypatch.setattr(ImageIndex, "BRUTE_FORCE_MAX", brute_force_max)
    rng = np.random.default_rng(0)
    hashes = [int(h) for h in rng.integers(0, 2**63, 300)]
    grey = np.full((4, 4, 3), 128, dtype=np.float32)
    idx = image_index(max_distance=6)
    for i, h in enumerate(hashes):
        idx.add(i, (f"{i}.jpg",), [(h, grey)])
    assert idx.add(900, ("x.jpg",), [(hashes[42] ^ 0b111111, grey)]) == [42]  # 6 bits away
    assert idx.add(901, ("y.jpg",), [(hashes[42] ^ (0b1111111 << 20), grey)]) == []  # 7 bits away
    assert idx.add(902, ("42.jpg",), [(hashes[42], grey)]) == [900]  # same file as 42: not a dup of it


def test_multi_image_records_match_image_for_image():
    grey, dark = np.full((4, 4, 3), 128, dtype=np.float32), np.full((4, 4, 3), 20, dtype=np.float32)
    idx = image_index()
    assert idx.add(0, ("a", "b"), [(1, grey), (2**40, dark)]) == []
    assert idx.add(1, ("c", "d"), [(1, grey), (2**40, dark)]) == [0]
    assert idx.add(2, ("e", "f"), [(1, grey), (2**50, grey)]) == []  # second image differs
    assert idx.add(3, ("g",), [(1, grey)]) == []  # different image count


# ---- the "same as datasketch / imagehash" claims --------------------------------------------------------------


def _texts_with_near_duplicates(n: int = 300, seed: int = 0) -> list[str]:
    """Random Chinese-like answers, half of them edited copies of earlier ones (a few characters changed,
    so their Jaccard similarities spread over the range the thresholds cut)."""
    rng = np.random.default_rng(seed)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
    texts: list[str] = []
    for i in range(n):
        if i >= 10 and i % 2 == 0:
            chars = list(texts[int(rng.integers(len(texts)))])
            for _ in range(int(rng.integers(0, 7))):  # 0: an exact copy
                chars[int(rng.integers(len(chars)))] = alphabet[int(rng.integers(len(alphabet)))]
            texts.append("".join(chars))
        else:
            texts.append("".join(rng.choice(alphabet, size=int(rng.integers(30, 80)))))
    return texts


def _datasketch_minhash(idx: AnswerIndex, text: str):
    from datasketch import MinHash

    from zqvl.data.clean.dedupe import _shingle_ids

    m = MinHash(num_perm=idx._num_perm, seed=1, scheme="affine32", hashfunc=lambda v: v)
    m.update_batch([int(v) for v in _shingle_ids(text, idx.ngram)])
    return m


def test_signatures_equal_datasketch_update_batch():
    idx = answer_index()
    texts = _texts_with_near_duplicates(40)
    rows = idx.signatures(texts)
    for text, row in zip(texts, rows):
        expected = _datasketch_minhash(idx, text).hashvalues
        assert np.array_equal(idx.signature(text), expected) and np.array_equal(row, expected)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.9])
def test_banding_and_candidates_equal_datasketch_lsh(threshold):
    from datasketch import MinHashLSH
    from datasketch.lsh import _optimal_param

    texts = _texts_with_near_duplicates()
    idx = answer_index(threshold=threshold)
    assert (idx.bands, idx.rows) == _optimal_param(threshold, 128, 0.5, 0.5)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    assert (lsh.b, lsh.r) == (idx.bands, idx.rows)
    minhashes = [_datasketch_minhash(idx, t) for t in texts]
    for key, m in enumerate(minhashes):
        lsh.insert(key, m)
    theirs = {(min(k, other), max(k, other)) for k, m in enumerate(minhashes) for other in lsh.query(m) if other != k}
    idx.store(list(range(len(texts))), texts)
    ours = set()
    for key in range(len(texts)):  # every record kept: the tables then hold every record, as lsh does
        ours |= {(other, key) for other in idx.candidates(key)}
        idx.keep(key)
    assert len(theirs) >= 40 and ours == theirs


def test_lsh_bands_follows_the_threshold():
    assert lsh_bands(0.5, 128) == (25, 5) and lsh_bands(0.7, 128) == (14, 9) and lsh_bands(0.9, 128) == (5, 25)


def test_the_shipped_bands_are_what_the_scan_gives():
    from zqvl.data.clean.dedupe import SHIPPED_BANDS, _scan_bands

    p = SHIPPED["answers"]
    assert (p["threshold"], p["num_perm"]) in SHIPPED_BANDS  # default.yaml and the table agree
    assert all(_scan_bands(t, n) == bands for (t, n), bands in SHIPPED_BANDS.items())


def test_phash_equals_imagehash(tmp_path):
    import imagehash

    rng = np.random.default_rng(1)
    paths = []
    for i in range(12):
        size = (int(rng.integers(40, 300)), int(rng.integers(40, 300)))
        if i % 2:
            _drawing(tmp_path / f"{i}.jpg", [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(3)], size)
        else:
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / (f"{i}.jpg" if i % 2 else f"{i}.png")))
    thumbs = [thumbnail(p) for p in paths]
    for thumb, (h, _) in zip(thumbs, signatures_of(thumbs)):
        assert h == int(str(imagehash.phash(thumb)), 16)


def test_thumbnail_is_the_same_from_memory_or_disk_and_names_no_object_when_it_is_not_an_image(tmp_path, monkeypatch):
    import zqvl.data.clean.imagesig as imagesig
    from zqvl.data.clean.imagesig import image_signatures

    _drawing(tmp_path / "a.jpg", [(200, 30, 30), (30, 200, 30), (30, 30, 200)], (160, 120))
    Image.new("P", (64, 48), 3).save(tmp_path / "b.png")  # not RGB, not a JPEG: PIL chooses the format
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff but nothing of a JPEG after the magic")
    (tmp_path / "d.jpg").write_bytes(b"<html>not an image</html>")
    paths = [str(tmp_path / n) for n in ("a.jpg", "b.png", "c.jpg", "d.jpg")]
    in_memory = image_signatures(paths)
    monkeypatch.setattr(imagesig, "_READ_WHOLE_MAX", 16)  # every file "too big": decoded from disk
    from_disk = image_signatures(paths)
    for ours, theirs in zip(in_memory[:2], from_disk[:2]):
        assert ours[0] == theirs[0] and np.array_equal(ours[1], theirs[1])
    for bad in in_memory[2:] + from_disk[2:]:  # the reason must not show "<_io.BytesIO object at 0x…>"
        assert type(bad).__name__ == "UnidentifiedImageError" and str(bad) == "not a recognised image format"


def test_batch_luma_is_pils_greyscale_to_the_bit():
    from zqvl.data.clean.imagesig import _luma

    pixels = np.random.default_rng(2).integers(0, 256, (4, 64, 64 * 3), dtype=np.uint8)
    pixels[0, 0, :6] = [255, 255, 255, 0, 0, 0]  # the extremes round like PIL's fixed point too
    ours = _luma(pixels)
    for rows, grey in zip(pixels, ours):
        theirs = np.asarray(Image.fromarray(rows.reshape(64, 64, 3)).convert("L"))
        assert np.array_equal(grey, theirs)


# ---- linear memory: the indexes hold kept records only -------------------------------------------------------


def test_twenty_thousand_equal_answers_keep_the_first_and_hold_one_row_per_band():
    n = 20_000
    answers, _ = dedupe_indexes(load_config())
    decisions = [Decision(i, f"r{i}") for i in range(n)]
    answers.store(list(range(n)), [norm(BASE)] * n)
    keep_first(decisions, answers, None)
    assert decisions[0].kept and all(d.reasons == ["dedupe.answer"] for d in decisions[1:])
    assert "kept record 'r0'" in decisions[-1].reasons[0].detail
    assert answers.kept == 1 and answers.bucket_entries == answers.bands  # not n x bands, not n^2


def test_twenty_thousand_equal_images_keep_the_first_and_hold_one_image():
    n = 20_000
    _, images = dedupe_indexes(load_config())
    grey = np.full((4, 4, 3), 128, dtype=np.float32)
    decisions = [Decision(i, f"r{i}") for i in range(n)]
    for i in range(n):
        images.remember(i, (f"{i}.jpg",), [(0x0123456789ABCDEF, grey)])
    keep_first(decisions, None, images)
    assert decisions[0].kept and all(d.reasons == ["dedupe.image"] for d in decisions[1:])
    assert images.held == 1 and len(images._first_row) == 1


def test_numbers_key_tells_digit_runs_apart_and_is_the_same_in_every_process():
    """A worker computes the key and the parent compares it: it must not depend on the process's str hash seed."""
    import subprocess
    import sys

    texts = ["售价29.99美元", "售价39.99美元", "1 23", "12 3", "没有数字", "共3只猫和2只狗"]
    keys = [numbers_key(t) for t in texts]
    assert len(set(keys)) == len(keys) and keys[4] == 0 and numbers_key("有3只猫，2只狗") == keys[5]
    code = f"from zqvl.data.clean.dedupe import numbers_key; print([numbers_key(t) for t in {texts!r}])"
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], env={"PYTHONHASHSEED": seed}, capture_output=True, text=True)
        assert out.stdout.strip() == str(keys), out.stderr


def test_keep_first_compares_with_kept_records_only():
    """b duplicates a (dropped for another reason), c duplicates b: c is kept, as before the rewrite."""
    answers, _ = dedupe_indexes(load_config())
    a, b = norm(BASE), norm(BASE.replace("手工包", "手工编织包"))
    decisions = [Decision(0, "a", ["refusal.refused"]), Decision(1, "b"), Decision(2, "c")]
    answers.store([1, 2], [a, b])
    keep_first(decisions, answers, None)
    assert decisions[1].kept and decisions[2].reasons == ["dedupe.answer"]
    decisions = [Decision(0, "a", ["refusal.refused"]), Decision(1, "b")]
    answers, _ = dedupe_indexes(load_config())
    answers.store([1], [b])
    keep_first(decisions, answers, None)
    assert decisions[1].kept  # a was never kept, so b duplicates nothing


# ---- answers copied from another record: the same Chinese, other English ---------------------------------------
def _caption(rid: str, zh: str, en: str) -> dict:
    return {
        "id": rid,
        "image": f"{rid}.jpg",
        "conversations": [
            {"from": "human", "value": "<image>\n描述这张图片。", "source": "<image>\nDescribe the image."},
            {"from": "gpt", "value": zh, "source": en},
        ],
    }


def test_the_same_short_caption_under_other_english_is_a_copy_and_under_the_same_english_is_not():
    from zqvl.data.clean.copies import CopiedAnswers, copy_signature

    ramen = "一碗配有溏心蛋和葱花的拉面。"
    records = [
        _caption("r0", ramen, "a bowl of ramen with a soft-boiled egg and green onions"),
        _caption("r1", ramen, "a bowl of ramen with soft boiled egg and green onions"),  # the same caption, reworded
        _caption("r2", ramen, "a bowl of pho with fresh herbs and lime wedges"),  # another dish: copied
        _caption("r3", "是的。", "Yes."),
        _caption("r4", "是的。", "Yes, that is right."),  # too short to tell a copy from a common answer
        _caption("r5", "一只猫睡在沙发上。", "a cat sleeps on the sofa"),  # no source: never compared
    ]
    del records[5]["conversations"][1]["source"]
    p = SHIPPED["copies"]
    copies = CopiedAnswers(p["min_chars"], p["max_source_overlap"])
    decisions = [Decision(i, r["id"]) for i, r in enumerate(records)]
    for i, r in enumerate(records):
        copies.remember(i, copy_signature(parse_record(r, i), p["min_chars"]))
    keep_first(decisions, None, None, copies)
    assert [d.id for d in decisions if not d.kept] == ["r2"]
    assert decisions[2].reasons == ["dedupe.copied_answer"] and "kept record 'r0'" in decisions[2].reasons[0].detail
    # deterministic across processes: a worker computes it, the parent compares
    assert copy_signature(parse_record(records[2], 2), 6) == copy_signature(parse_record(records[2], 2), 6)

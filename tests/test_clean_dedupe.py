"""Near-duplicate indexes: character n-gram MinHash-LSH for answers, pHash + colour for images."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from zqvl.data.clean.dedupe import AnswerIndex, ImageIndex, answer_text, image_signature
from zqvl.data.schema import parse_record

BASE = "黄昏时分热闹的街头集市，一串串暖黄色的灯泡照亮了四周。两旁的摊位出售水果、烤串和手工包。人们在摊位间慢慢地走着。"


def norm(text: str) -> str:
    return answer_text(parse_record({"id": "x", "conversations": [{"from": "human", "value": "q"},
                                                                   {"from": "gpt", "value": text}]}))


def test_answer_index_finds_near_duplicates_only():
    idx = AnswerIndex()
    assert idx.add(0, norm(BASE)) == []
    assert [k for k, _ in idx.add(1, norm(BASE.replace("手工包", "手工编织包")))] == [0]      # one phrase differs
    assert [k for k, _ in idx.add(2, norm(BASE.replace("，", "、")))] == [0, 1]              # punctuation only
    assert idx.add(3, norm("两支足球队正在阳光照耀的球场上比赛，一名身穿红色球衣的球员正准备踢球。")) == []
    assert idx.add(4, norm("这件衬衫售价29.99美元，下周打八折，门店和网店同价销售。")) == []
    assert idx.add(5, norm("这件衬衫售价39.99美元，下周打八折，门店和网店同价销售。")) == []   # other numbers: other facts
    assert idx.add(6, norm("不是。")) == [] and idx.add(7, norm("不是。")) == []              # too short to judge


def test_answer_text_ignores_punctuation_case_and_questions():
    rec = {"id": "a", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "Hello, World！"},
                                        {"from": "human", "value": "Q2"}, {"from": "gpt", "value": "ＯＫ"}]}
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
    _drawing(tmp_path / "b.jpg", [(240, 240, 230), (40, 160, 60), (230, 200, 40)])   # same layout, other colours
    idx = ImageIndex()
    sigs = {n: image_signature(str(tmp_path / n)) for n in ("a.jpg", "small.jpg", "big.png", "b.jpg")}
    assert idx.add(0, ("a.jpg",), [sigs["a.jpg"]]) == []
    assert idx.add(1, ("small.jpg",), [sigs["small.jpg"]]) == [0]
    assert idx.add(2, ("big.png",), [sigs["big.png"]]) == [0, 1]
    assert bin(sigs["a.jpg"][0] ^ sigs["b.jpg"][0]).count("1") <= 6       # pHash alone would call it a copy
    assert idx.add(3, ("b.jpg",), [sigs["b.jpg"]]) == []                    # the colour grid does not


@pytest.mark.parametrize("brute_force_max", [ImageIndex.BRUTE_FORCE_MAX, 0])
def test_image_index_search_paths_agree(monkeypatch, brute_force_max):
    monkeypatch.setattr(ImageIndex, "BRUTE_FORCE_MAX", brute_force_max)
    rng = np.random.default_rng(0)
    hashes = [int(h) for h in rng.integers(0, 2 ** 63, 300)]
    grey = np.full((4, 4, 3), 128, dtype=np.float32)
    idx = ImageIndex(max_distance=6)
    for i, h in enumerate(hashes):
        idx.add(i, (f"{i}.jpg",), [(h, grey)])
    assert idx.add(900, ("x.jpg",), [(hashes[42] ^ 0b111111, grey)]) == [42]        # 6 bits away
    assert idx.add(901, ("y.jpg",), [(hashes[42] ^ (0b1111111 << 20), grey)]) == []  # 7 bits away
    assert idx.add(902, ("42.jpg",), [(hashes[42], grey)]) == [900]                 # same file as 42: not a dup of it


def test_multi_image_records_match_image_for_image():
    grey, dark = np.full((4, 4, 3), 128, dtype=np.float32), np.full((4, 4, 3), 20, dtype=np.float32)
    idx = ImageIndex()
    assert idx.add(0, ("a", "b"), [(1, grey), (2 ** 40, dark)]) == []
    assert idx.add(1, ("c", "d"), [(1, grey), (2 ** 40, dark)]) == [0]
    assert idx.add(2, ("e", "f"), [(1, grey), (2 ** 50, grey)]) == []            # second image differs
    assert idx.add(3, ("g",), [(1, grey)]) == []                                 # different image count

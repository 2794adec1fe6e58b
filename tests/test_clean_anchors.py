"""Content anchors (anchors.yaml): which English words count, in which forms, and what counts as keeping one."""

from __future__ import annotations

from zqvl.data.clean.anchors import anchors_lost, lexicon, source_anchors


def test_inflected_forms_find_their_entry():
    text = "Two puppies and three kittens; buses riding past, a smiled child, flying kites, benches."
    assert source_anchors(text) == {"puppy", "kitten", "bus", "ride", "smile", "child", "fly", "kite", "bench"}


def test_quoted_text_code_and_urls_are_not_anchors():
    text = 'The sign says "RED DOG CAFE", the shell runs `cat notes.txt`, see www.blue-cat.com, and a bird sings.'
    assert source_anchors(text) == {"bird"}


def test_an_anchor_is_kept_by_any_rendering_or_in_english():
    source = "A brown dog and a white cat sit by the Blue Bottle window."
    assert anchors_lost(source, "一只褐色的狗和一只白猫坐在Blue Bottle的窗边。") == (frozenset(), 7)  # blue, bottle
    lost, total = anchors_lost(source, "两个人在公园里散步。")
    assert total == 7 and lost == {"brown", "dog", "white", "cat", "blue", "bottle", "window"}


def test_every_entry_has_chinese_renderings():
    for word, renderings in lexicon().items():
        assert word.isalpha() and word.islower(), word
        assert renderings and all(r and not r.isascii() for r in renderings), word

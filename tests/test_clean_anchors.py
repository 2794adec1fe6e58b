"""Content anchors (anchors.yaml): which English words count, in which forms, and what counts as keeping one."""

from __future__ import annotations

from zqvl.data.clean.anchors import anchors_lost, lexicon, source_anchors


def test_inflected_forms_find_their_entry():
    text = "Two puppies and three kittens; buses riding past, a child smiled, flying kites, benches, flies."
    assert source_anchors(text) == {"puppy", "kitten", "bus", "ride", "smile", "child", "fly", "kite", "bench"}


def test_quoted_text_code_and_urls_are_not_anchors():
    text = 'The sign says "RED DOG CAFE", the shell runs `cat notes.txt`, see www.blue-cat.com, and a bird sings.'
    assert source_anchors(text) == {"bird"}


def test_an_anchor_is_kept_by_any_rendering_or_in_english():
    source = "A brown dog and a white cat sit by the Blue Bottle window."
    assert len(source_anchors(source)) == 7  # blue and bottle too
    assert anchors_lost(source, "一只褐色的狗和一只白猫坐在Blue Bottle的窗边。", 4, 1.0) == (
        source_anchors(source),
        frozenset(),
    )
    assert anchors_lost(source, "两个人在公园里散步。", 4, 0.5) == (frozenset(), source_anchors(source))
    kept, lost = anchors_lost(source, "一只狗和一只猫坐在窗边。", 4, 0.5)  # 3 of 7
    assert kept == {"dog", "cat", "window"} and lost == {"brown", "white", "blue", "bottle"}


def test_a_turn_that_keeps_more_than_the_share_or_has_few_anchors_is_not_judged():
    source = "A brown dog and a white cat sit by the Blue Bottle window."
    assert anchors_lost(source, "一只棕色的狗和一只白猫坐在窗边。", 4, 0.5) is None  # 5 of 7
    assert anchors_lost("A red car.", "一只猫。", 4, 0.5) is None  # 2 anchors: too few to judge


def test_nouns_take_plurals_and_actions_their_verb_forms():
    assert source_anchors("bearings, cowed crowds, sleeping swimmers, riding") == {"sleep", "ride"}


def test_every_entry_has_chinese_renderings():
    for word, renderings in lexicon().items():
        assert word.isalpha() and word.islower(), word
        assert renderings and all(r and not r.isascii() for r in renderings), word

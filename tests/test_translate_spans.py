"""Protected spans: what gets masked, and that restore gives every span back exactly once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zqvl.data.translate.spans import PLACEHOLDER, mask, placeholder_problem


def spans(text: str) -> tuple[str, ...]:
    return mask(text).spans


def test_edge_image_tags_are_cut_off_not_sent():
    m = mask("<image>\nWhat does this image show?")
    assert (m.prefix, m.body, m.suffix, m.spans) == ("<image>\n", "What does this image show?", "", ())
    m = mask("Describe it.\n<image>")
    assert (m.prefix, m.body, m.suffix) == ("", "Describe it.", "\n<image>")
    m = mask("Compare <image> with <image> please")
    assert m.body == "Compare ⟦1⟧ with ⟦2⟧ please" and m.spans == ("<image>", "<image>")


def test_code_urls_and_emails_are_protected():
    text = (
        "Run `pip install zqvl` then:\n```python\nprint('hi')\n```\nDocs at https://example.com/a?b=1. Mail a.b@c.org"
    )
    assert spans(text) == (
        "`pip install zqvl`",
        "```python\nprint('hi')\n```",
        "https://example.com/a?b=1",
        "a.b@c.org",
    )


def test_numbers_with_units_but_not_plain_numbers_or_words():
    text = "It weighs 3.5 kg, costs $12.99, 50% off, 25°C at 10:30 am, 1920x1080 at 60 fps. 3 dogs, 5 minutes."
    assert spans(text) == ("3.5 kg", "$12.99", "50%", "25°C", "10:30 am", "1920x1080", "60 fps")


def test_text_read_off_the_image_stays_verbatim():
    assert spans("A sign that reads \"EXIT 4\" and a mug labeled 'Coffee'.") == ('"EXIT 4"', "'Coffee'")
    assert spans("The sign reads STOP AHEAD. The shirt says Nike and the shoes are red.") == ("STOP AHEAD", "Nike")
    assert spans("The label reads: Fresh milk, 2% fat. Next sentence.") == ("Fresh milk, 2% fat",)
    assert spans("A logo that spells COCONUT in blue letters") == ("COCONUT",)


def test_ordinary_prose_is_left_to_translate():
    text = "The book says that cats are cute. The dog's bowl and the cats' toys. A man reads a newspaper."
    assert spans(text) == ()
    # TextOCR-GPT4o section headings are prose, the transcription inside is not.
    m = mask("DESCRIPTION\nA palm tree on a beach.\n\nTEXT\nThe logo spells COCONUT.")
    assert m.spans == ("COCONUT",) and m.body.startswith("DESCRIPTION\n") and "\nTEXT\n" in m.body


def test_placeholder_lookalikes_in_the_data_are_protected_too():
    m = mask("literal ⟦1⟧ and a stray ⟧ here")
    assert m.spans == ("⟦", "⟧", "⟧") and m.body == "literal ⟦1⟧1⟦2⟧ and a stray ⟦3⟧ here"
    assert m.restore(m.body) == "literal ⟦1⟧ and a stray ⟧ here"
    m = mask('"a ⟦ b" and ⟦')  # a bracket inside another span stays inside it
    assert m.spans == ('"a ⟦ b"', "⟦") and m.body == "⟦1⟧ and ⟦2⟧"


def test_nothing_to_translate():
    assert not mask("<image>").needs_model
    assert not mask("<image>\n42").needs_model
    assert not mask('"STOP"').needs_model
    assert mask("<image>\nWhat is it?").needs_model


def test_placeholder_problems_are_named():
    m = mask('Signs "A1" and "B2" and "C3".')
    assert placeholder_problem(m, "标志⟦1⟧和⟦2⟧和⟦3⟧。") is None
    assert placeholder_problem(m, "标志⟦1⟧和⟦3⟧。") == ("placeholder_lost", "missing ⟦2⟧")
    assert placeholder_problem(m, "标志⟦1⟧⟦1⟧和⟦2⟧和⟦3⟧。")[0] == "placeholder_duplicated"
    assert placeholder_problem(m, "标志⟦1⟧和⟦2⟧和⟦3⟧⟦4⟧。")[0] == "placeholder_unknown"
    assert placeholder_problem(m, "标志⟦1⟧和⟦2⟧和⟦3⟧<image>")[0] == "placeholder_unknown"


_pieces = st.sampled_from(
    [
        "<image>",
        "\n",
        " ",
        "the sign reads ",
        "STOP",
        '"Open 24h"',
        "3.5 kg",
        "$4",
        "https://a.io/x",
        "`x=1`",
        "```\ncode\n```",
        "⟦2⟧",
        "⟧",
        "What is this?",
        "a dog's bowl",
        "'quoted'",
        "10:30",
        "cafe",
        "标志",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=12).map("".join))
def test_mask_then_restore_is_identity_and_spans_come_back_once(text):
    m = mask(text)
    assert m.restore(m.body) == text
    assert placeholder_problem(m, m.body) is None  # the body holds ⟦1⟧..⟦n⟧ once each, nothing else
    assert len(PLACEHOLDER.findall(m.body)) == len(m.spans)
    # A model that reorders placeholders is fine; each span comes back exactly once.
    reordered = "".join(f"⟦{i}⟧" for i in reversed(range(1, len(m.spans) + 1)))
    assert placeholder_problem(m, reordered) is None
    restored = m.restore(reordered)
    for span in set(m.spans):
        assert restored.count(span) >= m.spans.count(span)
    assert restored.count("<image>") == text.count("<image>")

"""One ChatML definition: the tokenizer's generated Jinja template renders exactly what `segments` renders
(plain and list-of-parts content), one generation header, stop ids from the same names."""

from __future__ import annotations

import pytest
from jinja2.exceptions import TemplateError

from zqvl.data.schema import parse_record
from zqvl.data.template import DEFAULT_SYSTEM, GENERATION_HEADER, generation_prompt, segments, stop_token_ids

IM_START, IM_END, END_OF_TEXT = 151644, 151645, 151643


def turns_for(n: int) -> list[str]:
    out = []
    for k in range(n):
        out += [("<image>\n" if k == 0 else "") + f"问题{k}：这是什么？", f"答案{k}：一只猫。"]
    return out


def record(turns: list[str]):
    convs = [{"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(turns)]
    return parse_record({"id": "t", "image": "a.jpg", "conversations": convs})


def as_parts(text: str) -> list[dict]:
    """'<image>\\nq' -> [{"type": "image"}, {"type": "text", "text": "\\nq"}] (HF processor message format)."""
    parts: list[dict] = []
    for i, piece in enumerate(text.split("<image>")):
        if i:
            parts.append({"type": "image"})
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


def messages(turns: list[str], parts: bool) -> list[dict]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": as_parts(t) if parts else t}
        for i, t in enumerate(turns)
    ]


@pytest.mark.parametrize("parts", [False, True], ids=["plain", "parts"])
@pytest.mark.parametrize("n_turns", [1, 2, 5])
def test_chat_template_renders_exactly_the_segments(qwen_tokenizer, n_turns, parts):
    turns = turns_for(n_turns)
    want = "".join(s.text for s in segments(record(turns)))
    msgs = messages(turns, parts)
    assert qwen_tokenizer.apply_chat_template(msgs, tokenize=False) == want
    with_header = qwen_tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert with_header == want + GENERATION_HEADER == want + "<|im_start|>assistant\n"
    assert with_header.count(GENERATION_HEADER) == n_turns + 1  # one per answer, plus the one to generate


def test_generation_prompt_is_the_template_with_a_header(qwen_tokenizer):
    history = [("<image>\n第一张", "好的。")]
    msgs = messages(["<image>\n第一张", "好的。", "和第一张比呢？"], parts=True)
    assert generation_prompt(history, "和第一张比呢？") == qwen_tokenizer.apply_chat_template(
        msgs, tokenize=False, add_generation_prompt=True
    )


def test_leading_system_message_replaces_the_default(qwen_tokenizer):
    turns = turns_for(2)
    custom = [{"role": "system", "content": "你是助手。"}] + messages(turns, parts=False)
    assert qwen_tokenizer.apply_chat_template(custom, tokenize=False) == "".join(
        s.text for s in segments(record(turns), "你是助手。")
    )
    as_list = [{"role": "system", "content": [{"type": "text", "text": "你是助手。"}]}] + messages(turns, parts=True)
    assert qwen_tokenizer.apply_chat_template(as_list, tokenize=False).startswith(
        "<|im_start|>system\n你是助手。<|im_end|>\n<|im_start|>user\n<image>\n问题0"
    )
    # an empty system message means no system turn, as segments(record, "") renders it
    empty = [{"role": "system", "content": ""}] + messages(turns, parts=False)
    rendered = qwen_tokenizer.apply_chat_template(empty, tokenize=False)
    assert rendered == "".join(s.text for s in segments(record(turns), "")) and DEFAULT_SYSTEM not in rendered


def test_unknown_content_part_is_refused(qwen_tokenizer):
    with pytest.raises(TemplateError, match="unsupported content part type: video"):
        qwen_tokenizer.apply_chat_template([{"role": "user", "content": [{"type": "video"}]}], tokenize=False)


def test_stop_token_ids_are_im_end_then_endoftext(qwen_tokenizer):
    assert stop_token_ids(qwen_tokenizer) == [IM_END, END_OF_TEXT]
    assert qwen_tokenizer.encode(GENERATION_HEADER, add_special_tokens=False)[0] == IM_START


def test_stop_token_ids_skip_tokens_a_vocabulary_lacks():
    class Vocab:  # a tokenizer with an unknown token: unknown names map to it and must not become stops
        unk_token_id = 0

        def convert_tokens_to_ids(self, token):
            return {"<|im_end|>": 7}.get(token, 0)

    assert stop_token_ids(Vocab()) == [7]

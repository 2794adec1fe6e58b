"""Label masks on token level with the real Qwen tokenizer; long chats split between exchanges, never inside."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zqvl.data.schema import parse_record
from zqvl.model.tokenizer import image_token_id
from zqvl.train.collate import IGNORE, Dropped, Tokenizer, build_samples, collate, group_by_length

N_IMG = 4  # image tokens per image in these tests
IM_START, IM_END, NL = 151644, 151645, 198
SYSTEM = "You are a helpful assistant."


@pytest.fixture(scope="module")
def tok(qwen_tokenizer):
    return Tokenizer(qwen_tokenizer, image_token_id(qwen_tokenizer), N_IMG)


def record(*turns: str, images: int = 1, rid: str = "r1"):
    convs = [{"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(turns)]
    obj = {"id": rid, "conversations": convs}
    if images:
        obj["image"] = [f"{rid}_{k}.jpg" for k in range(images)]
    return parse_record(obj)


def spans(labels: torch.Tensor) -> list[tuple[int, int]]:
    """[start, end) of each run of supervised positions."""
    out, start = [], None
    for i, v in enumerate(labels.tolist() + [IGNORE]):
        if v != IGNORE and start is None:
            start = i
        elif v == IGNORE and start is not None:
            out.append((start, i))
            start = None
    return out


def test_one_turn_exact_ids_and_labels(qwen_tokenizer, tok):
    enc = lambda s: qwen_tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    rec = record("<image>\n这张图片里有什么？", "一只猫坐在窗台上。")
    [s] = build_samples(rec, tok, max_len=512, system=SYSTEM)
    img = image_token_id(qwen_tokenizer)
    prompt = (
        [IM_START]
        + enc("system\n" + SYSTEM)
        + [IM_END, NL]
        + [IM_START]
        + enc("user\n")
        + [img] * N_IMG
        + enc("\n这张图片里有什么？")
        + [IM_END, NL]
        + [IM_START]
        + enc("assistant\n")
    )
    answer = enc("一只猫坐在窗台上。") + [IM_END]
    assert s.input_ids.tolist() == prompt + answer + [NL]
    assert s.labels.tolist() == [IGNORE] * len(prompt) + answer + [IGNORE]
    assert s.image_index == [0] and (s.piece, s.pieces) == (0, 1)
    # the image tokens are contiguous and never supervised
    where = (s.input_ids == img).nonzero().flatten().tolist()
    assert len(where) == N_IMG and where == list(range(where[0], where[0] + N_IMG))
    assert all(s.labels[i] == IGNORE for i in where)


@pytest.mark.parametrize("n_turns", [1, 2, 5])
def test_every_answer_supervised_and_nothing_else(qwen_tokenizer, tok, n_turns):
    turns = []
    for k in range(n_turns):
        turns += [("<image>\n" if k == 0 else "") + f"问题{k}：图里第{k}个物体是什么？", f"答案{k}：是一个红色的杯子。"]
    rec = record(*turns)
    [s] = build_samples(rec, tok, max_len=4096, system=SYSTEM)
    found = spans(s.labels)
    assert len(found) == n_turns
    ids = s.input_ids.tolist()
    for k, (a, b) in enumerate(found):
        # labels equal the ids on the span, and the span is exactly answer k + <|im_end|>
        assert s.labels[a:b].tolist() == ids[a:b]
        assert qwen_tokenizer.decode(ids[a:b]) == f"答案{k}：是一个红色的杯子。<|im_end|>"
        assert ids[a - 3 : a] == [IM_START, 77091, NL]  # right after "<|im_start|>assistant\n"
        assert ids[b - 1] == IM_END and ids[b] == NL  # ends with the turn's <|im_end|>, "\n" unlabelled
    supervised = sum(b - a for a, b in found)
    assert supervised == int((s.labels != IGNORE).sum())
    # the full sequence decodes to the ChatML the tokenizer's own chat template renders
    messages = [{"role": "system", "content": SYSTEM}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)
    ]
    rendered = qwen_tokenizer.apply_chat_template(messages, tokenize=False)
    assert qwen_tokenizer.decode(ids) == rendered.replace("<image>", "<image>" * N_IMG)


def test_trailing_question_dropped_and_bad_records(tok):
    rec = record("<image>\n问一", "答一", "没有答案的问题")
    [s] = build_samples(rec, tok, max_len=512, system=SYSTEM)
    assert "没有答案" not in tok.tok.decode(s.input_ids)
    with pytest.raises(Dropped) as e:
        build_samples(record("<image>\n只有问题"), tok, 512, SYSTEM)
    assert e.value.reason == "no_answer"
    with pytest.raises(Dropped) as e:
        build_samples(record("<image>\n问", "答", images=2), tok, 512, SYSTEM)
    assert e.value.reason == "placeholder.count"
    with pytest.raises(Dropped) as e:
        answer_first = parse_record(
            {"id": "x", "conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "b"}]}
        )
        build_samples(answer_first, tok, 512, SYSTEM)
    assert e.value.reason == "structure.order"


def test_long_chat_split_between_exchanges_with_image_carried(qwen_tokenizer, tok):
    turns = []
    for k in range(5):
        turns += [
            ("<image>\n" if k == 0 else "") + f"第{k}个问题" + "请详细说明。" * 5,
            f"第{k}个回答" + "内容很长。" * 8,
        ]
    rec = record(*turns)
    [whole] = build_samples(rec, tok, max_len=4096, system=SYSTEM)
    max_len = len(whole) // 2
    pieces = build_samples(rec, tok, max_len=max_len, system=SYSTEM)
    assert len(pieces) >= 2 and all(len(p) <= max_len for p in pieces)
    assert [p.piece for p in pieces] == list(range(len(pieces))) and {p.pieces for p in pieces} == {len(pieces)}
    answers = [qwen_tokenizer.decode(p.input_ids[a:b]) for p in pieces for a, b in spans(p.labels)]
    assert answers == [t + "<|im_end|>" for t in turns[1::2]]  # every answer once, whole, in order
    img = image_token_id(qwen_tokenizer)
    for p in pieces:  # every piece sees the image before its first answer
        assert p.image_index == [0]
        assert int((p.input_ids == img).sum()) == N_IMG
        assert (p.input_ids == img).nonzero()[0].item() < spans(p.labels)[0][0]


def test_exchange_longer_than_max_len_is_dropped_not_cut(tok):
    rec = record("<image>\n短问题", "很长的回答。" * 200)
    with pytest.raises(Dropped) as e:
        build_samples(rec, tok, max_len=128, system=SYSTEM)
    assert e.value.reason == "tokens.too_long"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_answer_is_ever_truncated(qwen_tokenizer, tok, data):
    n = data.draw(st.integers(1, 6))
    words = st.text(alphabet="猫狗天空红蓝 abcxyz。，？\n", min_size=1, max_size=60)
    turns = []
    for k in range(n):
        q = data.draw(words)
        turns += [("<image>\n" if k == 0 else "") + q, data.draw(words)]
    rec = record(*turns)
    max_len = data.draw(st.integers(20, 200))
    try:
        pieces = build_samples(rec, tok, max_len=max_len, system=SYSTEM)
    except Dropped as e:
        assert e.reason == "tokens.too_long"
        return
    assert all(len(p) <= max_len for p in pieces)
    got = [p.labels[a:b].tolist() for p in pieces for a, b in spans(p.labels)]
    want = [tok.encode(a) + [IM_END] for a in turns[1::2]]
    assert got == want


def test_collate_pads_right_and_masks_padding(tok):
    recs = [record("<image>\n问" * 1, "答" * k, rid=f"r{k}") for k in (1, 5, 9)]
    samples = [build_samples(r, tok, 512, SYSTEM)[0] for r in recs]
    for k, s in enumerate(samples):
        s.pixel_values = torch.full((1, 3, 2, 2), float(k))
    batch = collate(samples, pad_id=151643)
    longest = max(len(s) for s in samples)
    assert batch["input_ids"].shape == (3, longest) and batch["ids"] == ["r1", "r5", "r9"]
    for row, s in enumerate(samples):
        n = len(s)
        assert batch["input_ids"][row, :n].tolist() == s.input_ids.tolist()
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (longest - n)
        assert (batch["labels"][row, n:] == IGNORE).all() and (batch["input_ids"][row, n:] == 151643).all()
    assert batch["pixel_values"][:, 0, 0, 0].tolist() == [0.0, 1.0, 2.0]  # order of appearance
    assert batch["tokens"] == sum(len(s) for s in samples)
    assert batch["supervised"] == sum(int((s.labels != IGNORE).sum()) for s in samples)


def test_length_grouping_cuts_padding_and_keeps_every_sample(tok):
    rng = random.Random(0)
    recs = [record("<image>\n问题", "回答" * rng.randint(1, 120), rid=f"r{i}") for i in range(64)]
    samples = [build_samples(r, tok, 4096, SYSTEM)[0] for r in recs]

    def padding(batches):
        padded = sum(len(b) * max(len(s) for s in b) for b in batches)
        return 1 - sum(len(s) for s in samples) / padded

    grouped = group_by_length(samples, 8, random.Random(1))
    plain = [samples[i : i + 8] for i in range(0, 64, 8)]
    assert sorted(s.id for b in grouped for s in b) == sorted(s.id for s in samples)
    assert padding(grouped) < padding(plain) / 3
    again = group_by_length(samples, 8, random.Random(1))
    assert [[s.id for s in b] for b in again] == [[s.id for s in b] for b in grouped]

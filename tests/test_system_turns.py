"""A leading system turn (ShareGPT-4o's system prompt) is part of the canonical record through every step."""

from __future__ import annotations

import json

from helpers.datadir import jpeg_bytes
from helpers.fake_openai_server import FakeOpenAI, fake_translate

from zqvl.cli.data import _main as data_main
from zqvl.data.checks import record_checks, roles
from zqvl.data.clean.structure import check_structure
from zqvl.data.schema import SYSTEM, parse_record
from zqvl.data.template import DEFAULT_SYSTEM, message, segments
from zqvl.data.validate import TokenBudget, token_overflow
from zqvl.model.tokenizer import image_token_id
from zqvl.train.collate import IGNORE, Tokenizer, build_samples
from zqvl.ui import run_cli

PROMPT = "You are a careful assistant who describes images precisely."
N_IMG = 4


def sharegpt4o(system: str | None = PROMPT, *, where: int = 0) -> dict:
    convs = [
        {"role": "user", "content": "<image>\nWhat is in the picture?"},
        {"role": "assistant", "content": "A red bicycle leaning on a wall."},
        {"role": "user", "content": "What colour is the wall?"},
        {"role": "assistant", "content": "The wall is white."},
    ]
    if system is not None:
        convs.insert(where, {"role": "system", "content": system})
    return {"id": "s1", "image": "s1.jpg", "conversations": convs}


def test_record_keeps_the_system_turn_and_writes_it_back():
    rec = parse_record(sharegpt4o())
    assert rec.system == PROMPT and rec.turns[0].role == SYSTEM
    assert [t.role for t in rec.dialogue] == ["human", "gpt", "human", "gpt"]
    assert rec.to_json()["conversations"][0] == {"from": "system", "value": PROMPT}
    assert parse_record(rec.to_json()).to_json() == rec.to_json()
    plain = parse_record(sharegpt4o(None))
    assert plain.system is None and plain.dialogue == plain.turns


def test_structure_allows_a_leading_system_turn_only():
    assert record_checks(parse_record(sharegpt4o())) == []
    assert check_structure(parse_record(sharegpt4o()), {}) == []
    mid = roles(parse_record(sharegpt4o(where=2)))
    assert [str(r) for r in mid] == ["structure.system_not_first"] and "turn 2" in mid[0].detail
    last = roles(parse_record(sharegpt4o(where=4)))
    assert [str(r) for r in last] == ["structure.system_not_first"]
    swapped = parse_record(
        {"id": "x", "conversations": [{"from": "system", "value": PROMPT}, {"from": "gpt", "value": "hi"}]}
    )
    assert [str(r) for r in roles(swapped)] == ["structure.order"]
    only = parse_record({"id": "x", "conversations": [{"from": "system", "value": PROMPT}]})
    assert [str(r) for r in roles(only)] == ["structure.order"]
    # An empty leading system turn means "no system prompt"; a translation that emptied one is a defect.
    assert record_checks(parse_record(sharegpt4o(""))) == []
    emptied = sharegpt4o("")
    emptied["conversations"][0]["source"] = PROMPT
    assert "structure.empty_turn" in [str(r) for r in record_checks(parse_record(emptied))]


def test_segments_use_the_record_system_prompt_and_match_the_chat_template(qwen_tokenizer):
    rec = parse_record(sharegpt4o())
    segs = segments(rec)
    assert segs[0].text == message("system", PROMPT) and not segs[0].supervised and segs[0].turn == 0
    assert DEFAULT_SYSTEM not in "".join(s.text for s in segs)
    assert segments(rec, "Another prompt.") == segs  # the record's own prompt wins
    msgs = [
        {"role": {"system": "system", "human": "user", "gpt": "assistant"}[t.role], "content": t.value}
        for t in rec.turns
    ]
    assert qwen_tokenizer.apply_chat_template(msgs, tokenize=False) == "".join(s.text for s in segs)
    empty = parse_record(sharegpt4o(""))
    assert all(s.turn >= 1 for s in segments(empty))  # no system turn at all, as the chat template
    msgs[0]["content"] = ""
    assert qwen_tokenizer.apply_chat_template(msgs, tokenize=False) == "".join(s.text for s in segments(empty))


def system_ids_and_labels(qwen_tokenizer, sample) -> tuple[list[int], list[int]]:
    ids, labels = sample.input_ids.tolist(), sample.labels.tolist()
    head = qwen_tokenizer.encode("<|im_start|>system\n", add_special_tokens=False)
    assert ids[: len(head)] == head
    end = ids.index(qwen_tokenizer.convert_tokens_to_ids("<|im_end|>"))
    return ids[len(head) : end], labels[: end + 1]


def test_collate_tokens_are_the_record_system_prompt_never_supervised(qwen_tokenizer):
    tok = Tokenizer(qwen_tokenizer, image_token_id(qwen_tokenizer), N_IMG)
    rec = parse_record(sharegpt4o())
    [sample] = build_samples(rec, tok, 4096, "The --system-prompt.")
    ids, labels = system_ids_and_labels(qwen_tokenizer, sample)
    assert ids == qwen_tokenizer.encode(PROMPT, add_special_tokens=False)
    assert set(labels) == {IGNORE}
    # Split into pieces: every piece starts with the record's prompt, answers alone are supervised.
    whole = len(sample)
    pieces = build_samples(rec, tok, whole - 5, None)
    assert len(pieces) == 2
    for p in pieces:
        ids, labels = system_ids_and_labels(qwen_tokenizer, p)
        assert ids == qwen_tokenizer.encode(PROMPT, add_special_tokens=False) and set(labels) == {IGNORE}
    answers = [
        qwen_tokenizer.decode([i for i, lab in zip(p.input_ids.tolist(), p.labels.tolist()) if lab != IGNORE])
        for p in pieces
    ]
    assert answers == ["A red bicycle leaning on a wall.<|im_end|>", "The wall is white.<|im_end|>"]


def test_token_budget_counts_the_record_system_prompt(qwen_tokenizer):
    long_prompt = "Describe every detail. " * 200
    short, long_ = parse_record(sharegpt4o()), parse_record(sharegpt4o(long_prompt))
    budget = TokenBudget(qwen_tokenizer, 400, N_IMG)
    assert token_overflow(short, budget) is None
    msg = token_overflow(long_, budget)
    assert msg is not None and "turn 0 (system)" in msg


def test_a_system_turn_survives_convert_validate_translate_clean_shard_collate(tmp_path, monkeypatch, qwen_tokenizer):
    """ShareGPT-4o with a system prompt, through every command as a user runs them; the shard's record
    collates to tokens whose system block is the translated prompt, never supervised."""
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    rows = []
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        (raw / "images" / f"p{i}.jpg").write_bytes(jpeg_bytes((64, 48), colour))
        row = sharegpt4o()
        row["id"], row["image"], row["conversations"][1]["content"] = (
            f"p{i}",
            f"p{i}.jpg",
            "What is in the picture?",
        )  # tag implied
        row["conversations"][2]["content"] = f"A red bicycle number {i} leaning on a wall."
        rows.append(row)
    (raw / "gpt4o.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def data(*argv) -> int:
        return run_cli(data_main, [str(a) for a in argv])

    conv, zh, kept, shards = (tmp_path / d for d in ("conv", "zh", "kept", "shards"))
    assert (
        data("convert", raw / "gpt4o.jsonl", "--format", "sharegpt-4o", "--images", raw / "images", "--out", conv) == 0
    )
    rec = json.loads((conv / "chat.json").read_text(encoding="utf-8"))[0]
    assert [t["from"] for t in rec["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    assert rec["conversations"][0]["value"] == PROMPT  # the implied <image> goes to the question, not the prompt
    assert rec["conversations"][1]["value"] == "<image>\nWhat is in the picture?"
    assert data("validate", conv) == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI() as srv:
        assert data("translate", conv, "--out", zh, "--base-url", srv.base_url, "--model", "m", "--no-progress") == 0
    system = json.loads((zh / "chat.json").read_text(encoding="utf-8"))[0]["conversations"][0]
    assert system == {"from": "system", "value": fake_translate(PROMPT), "source": PROMPT}
    assert data("validate", zh) == 0
    assert data("clean", zh, "--out", kept) == 0
    assert len(json.loads((kept / "chat.json").read_text(encoding="utf-8"))) == 3
    assert data("shard", kept, "--out", shards, "--val-fraction", "0") == 0

    from zqvl.data.shards.reader import ShardStream, expand_shards

    stream = ShardStream(expand_shards(str(shards)), shuffle_buffer=0, shuffle_shards=False, rank=0, world_size=1)
    records = [got[0] for _, got in stream.iter_worker(0, 0, 1) if got is not None]
    assert len(records) == 3 and all(r.system == fake_translate(PROMPT) for r in records)
    tok = Tokenizer(qwen_tokenizer, image_token_id(qwen_tokenizer), N_IMG)
    [sample] = build_samples(records[0], tok, 4096, DEFAULT_SYSTEM)
    ids, labels = system_ids_and_labels(qwen_tokenizer, sample)
    assert ids == qwen_tokenizer.encode(fake_translate(PROMPT), add_special_tokens=False)
    assert set(labels) == {IGNORE}


def test_an_image_tag_in_the_system_turn_is_flagged():
    row = sharegpt4o("<image>\n" + PROMPT)
    assert [(str(r), r.detail) for r in record_checks(parse_record(row)) if str(r) == "placeholder.in_answer"] == [
        ("placeholder.in_answer", "<image> inside the system turn (turn 0)")
    ]

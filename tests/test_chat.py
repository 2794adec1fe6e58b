"""zqvl-chat: prompts tokenized exactly as in training, answers end at <|im_end|> (not at a token cap),
multi-turn history, --compare table."""

from __future__ import annotations

import json

import pytest
from helpers.train_helpers import memorised_run, workspace

from zqvl.cli import chat as chat_cli
from zqvl.data.schema import parse_record
from zqvl.infer.chat import Chat, Conversation, open_image
from zqvl.train.collate import IGNORE, build_samples

pytestmark = pytest.mark.slow  # trains or kills real processes: `make test-fast` skips it

IM_END = 151645


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return memorised_run(tmp_path_factory)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return workspace(tmp_path_factory) / "data" / "images" / "img_000.png"


def test_prompt_tokens_equal_training_tokens(tmp_path_factory, image):
    chat = Chat(workspace(tmp_path_factory) / "model")
    conv = Conversation(history=[("<image>\n图片是什么颜色？", "这是红色。")], images=[open_image(image)])
    ids = chat.prompt_ids(conv, "再说一遍颜色。")
    record = parse_record(
        {
            "id": "x",
            "image": "a.png",
            "conversations": [
                {"from": "human", "value": "<image>\n图片是什么颜色？"},
                {"from": "gpt", "value": "这是红色。"},
                {"from": "human", "value": "再说一遍颜色。"},
                {"from": "gpt", "value": "红色。"},
            ],
        }
    )
    [sample] = build_samples(record, chat.tok, 4096, chat.system)
    labels = sample.labels.tolist()
    last_answer = max(i for i in range(len(labels)) if labels[i] != IGNORE and labels[i - 1] == IGNORE)
    assert ids == sample.input_ids.tolist()[:last_answer]


def test_answer_ends_at_im_end_not_at_a_cap(trained, image):
    chat = Chat(trained)
    conv = Conversation()
    reply = chat.ask(conv, "图片是什么颜色？", [open_image(image)])  # default max_new_tokens 1024
    assert reply.stopped == "im_end" and 1 < reply.new_tokens < 64
    assert reply.text.startswith("这是") and "<|im_end|>" not in reply.text
    cut = chat.ask(Conversation(), "图片是什么颜色？", [open_image(image)], max_new_tokens=2)
    assert cut.stopped == "max_new_tokens" and cut.new_tokens == 2
    # multi-turn: the second question sees the first answer and the image
    second = chat.ask(conv, "再说一遍颜色。")
    assert second.stopped == "im_end"
    assert conv.history[0] == ("<image>\n图片是什么颜色？", reply.text) and len(conv.images) == 1


def test_cli_answer_compare_and_interactive(trained, image, tmp_path_factory, tmp_path, capsys, monkeypatch):
    assert chat_cli.build_parser().parse_args([]).max_new_tokens == 1024
    code = chat_cli._main([str(trained), "--image", str(image), "图片是什么颜色？", "--json"])
    assert code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["stopped"] == "im_end" and shown["answer"].startswith("这是")

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        json.dumps({"question": "图片是什么颜色？", "image": str(image)}, ensure_ascii=False)
        + "\n"
        + json.dumps({"question": "你好"}, ensure_ascii=False)
        + "\n"
        + json.dumps(
            {"question": "<image>\n<image>\n两张图一样吗？", "image": [str(image), str(image)]}, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    untrained = workspace(tmp_path_factory) / "model"
    gen = {"max_new_tokens": 64, "sample": False, "temperature": 0.7, "top_p": 0.9, "seed": None}
    runs = [str(untrained), str(trained)]
    rows = chat_cli.compare_rows(chat_cli.compare(runs, str(prompts), gen, chat_cli.DEFAULT_SYSTEM), runs)
    assert [r[0] for r in rows] == [
        "img_000.png: 图片是什么颜色？",
        "-: 你好",
        "img_000.png, img_000.png: <image>\n<image>\n两张图一样吗？",
    ]
    assert rows[0][2] == shown["answer"] and all(len(r) == 3 for r in rows)
    assert rows[0][1].endswith("[cut at max_new_tokens]")  # random weights: <|im_end|> is one id in 151k
    assert chat_cli._main(["--compare", *runs, "--prompts", str(prompts), "--max-new-tokens", "8"]) == 0
    assert "zqvl-chat --compare" in capsys.readouterr().out
    assert chat_cli._main(["--compare", *runs, "--prompts", str(prompts), "--max-new-tokens", "8", "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert len(answers) == 3 and set(answers[2]["answers"]) == set(runs) and len(answers[2]["images"]) == 2

    lines = iter(["图片是什么颜色？", "再说一遍颜色。", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert chat_cli._main([str(trained), "--image", str(image), "--interactive"]) == 0
    said = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("助手> ")]
    assert len(said) == 2 and said[0] == f"助手> {shown['answer']}"


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    assert chat_cli.run_cli(chat_cli._main, [str(tmp_path), "hi"]) == 2
    assert "neither a model dir" in capsys.readouterr().err

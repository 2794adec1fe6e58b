"""translate --dry-run and --limit: the bill before paying, and a first look before translating the rest."""

from __future__ import annotations

import json

from helpers.fake_openai_server import FakeOpenAI
from helpers.translate_records import QUESTIONS, sample_records, write_chat_dir

from zqvl.cli.data import _main
from zqvl.data.translate.prompt import messages
from zqvl.data.translate.spans import mask
from zqvl.ui import run_cli

CLOSED = "http://127.0.0.1:9/v1"  # nothing listens: a dry run must never connect


def zqvl_data(*argv) -> int:
    return run_cli(_main, [str(a) for a in argv])


def exact_prompt_tokens(tok, strings) -> int:
    """Every request's ChatML text as the endpoint renders it (the system prompt is ~290 tokens)."""
    total = 0
    for s in strings:
        system, user = messages(mask(s).body)
        text = f"<|im_start|>system\n{system['content']}<|im_end|>\n<|im_start|>user\n{user['content']}<|im_end|>\n"
        total += len(tok.encode(text + "<|im_start|>assistant\n", add_special_tokens=False))
    assert total > 250 * len(strings)
    return total


def figures(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 2 and cells[1]:
            rows[cells[0]] = cells[1].replace(",", "")
    return rows


def test_dry_run_counts_with_the_real_tokenizer_and_sends_nothing(tmp_path, capsys, qwen_tokenizer):
    records = sample_records(12)
    src = write_chat_dir(tmp_path / "in", records)
    out = tmp_path / "out"
    argv = ["translate", src, "--out", out, "--base-url", CLOSED, "--model", "m", "--dry-run", "--dedupe"]
    argv += ["--pack-tokens", "0"]  # one request per string: the count below is per string
    assert zqvl_data(*argv, "--price-in", "0.5", "--price-out", "2") == 0
    got = figures(capsys.readouterr().out)
    answers = [r["conversations"][1]["value"] for r in records]
    distinct = list(dict.fromkeys([r["conversations"][0]["value"] for r in records] + answers))
    prompt = exact_prompt_tokens(qwen_tokenizer, distinct)
    completion = sum(len(qwen_tokenizer.encode(mask(s).body, add_special_tokens=False)) for s in distinct)
    assert got["records"] == "12" and got["turns to translate"] == "24"
    assert got["distinct strings"] == got["requests (one attempt each)"] == str(len(distinct))
    assert got["prompt tokens"] == str(prompt) and got["completion tokens (estimate)"] == str(completion)
    assert got["cost (estimate)"] == f"{(prompt * 0.5 + completion * 2) / 1e6:.4f}"
    assert not out.exists()  # nothing written, not even the output dir
    assert len({r["conversations"][0]["value"] for r in records}) == len(QUESTIONS)


def test_limit_then_dry_run_then_the_rest_pays_only_for_the_rest(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    src = write_chat_dir(tmp_path / "in", sample_records(10))
    out = tmp_path / "out"
    with FakeOpenAI() as srv:
        base = ["translate", src, "--out", out, "--base-url", srv.base_url, "--model", "m", "--no-progress"]
        assert zqvl_data(*base, "--limit", "4") == 0
        first = json.loads((out / "chat.json").read_text(encoding="utf-8"))
        assert [r["id"] for r in first] == [f"rec{i:05d}" for i in range(4)]
        sent_first = len(srv.log)
        assert sum(len(r.texts) for r in srv.log) == 8  # 4 records x 2 turns, no --dedupe
        assert sent_first == 1  # short strings: one packed request
        capsys.readouterr()
        assert zqvl_data(*base, "--dry-run", "--pack-tokens", "60") == 0
        got = figures(capsys.readouterr().out)
        assert got["in the cache already"] == "8" and got["requests (one attempt each)"] == "4"
        assert len(srv.log) == sent_first  # the dry run sent nothing
        assert zqvl_data(*base, "--pack-tokens", "60") == 0
        assert len(srv.log) - sent_first == 4  # exactly what the dry run said
        assert sum(len(r.texts) for r in srv.log[sent_first:]) == 12
    every = json.loads((out / "chat.json").read_text(encoding="utf-8"))
    assert len(every) == 10 and every[:4] == first

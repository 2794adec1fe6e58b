"""translate against a hostile endpoint: broken 200 bodies are retried and listed, never an abort; an answer that
echoes the API key is never stored; URL credentials are never printed; a refused connection is named as such."""

from __future__ import annotations

import json

import pytest
from helpers.fake_openai_server import BROKEN_BODIES, FakeOpenAI
from helpers.translate_records import sample_records, write_chat_dir

from zqvl.cli.data import _main
from zqvl.data.translate import RetryPolicy, TranslateOptions, translate_dir
from zqvl.errors import UsageError
from zqvl.ui import run_cli

KEY = "sk-hostile-7d1e0c55b9a4-SECRET"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.02)


def options(base_url: str, **kw) -> TranslateOptions:
    return TranslateOptions(base_url=base_url, model="m", api_key=KEY, concurrency=4, retry=FAST, timeout=5.0, **kw)


def every_file(path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


@pytest.mark.parametrize("fault", sorted(BROKEN_BODIES) + ["echo_key"])
def test_a_broken_answer_is_retried_and_never_stored(tmp_path, fault):
    src = write_chat_dir(tmp_path / "in", sample_records(8, ("dog", "owl")))
    with FakeOpenAI(api_key=KEY, faults={"owl": [fault]}) as srv:  # first try broken, then fine
        stats = translate_dir(src, tmp_path / "out", options(srv.base_url))
        retried = [r for r in srv.log if r.fault == fault]
    assert retried and stats.records_failed == 0
    assert stats.problems["bad_response"] == len(retried)
    assert KEY.encode() not in every_file(tmp_path / "out")


@pytest.mark.parametrize("fault", ["bad_json", "deep_body", "echo_key"])
def test_an_answer_broken_every_time_is_listed_not_fatal(tmp_path, fault, capsys, monkeypatch):
    src = write_chat_dir(tmp_path / "in", sample_records(6, ("dog", "poison")))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI(api_key=KEY, faults={"poison": [fault] * 99}) as srv:
        code = run_cli(
            _main,
            [
                "translate",
                str(src),
                "--out",
                str(tmp_path / "out"),
                "--base-url",
                srv.base_url,
                "--model",
                "m",
                "--max-attempts",
                "2",
                "--no-progress",
            ],
        )
    captured = capsys.readouterr()
    assert code == 1, captured.err
    failed = [json.loads(line) for line in (tmp_path / "out" / "failed.jsonl").read_text().splitlines()]
    assert failed and all(f["reasons"] == ["bad_response"] for f in failed)
    assert KEY not in captured.out + captured.err
    assert KEY.encode() not in every_file(tmp_path / "out")


@pytest.mark.parametrize(
    "credential, message", [("alice:hunter2-pw@", "carries user:password@"), ("", "never answered")]
)
def test_credentials_in_the_base_url_are_never_printed(tmp_path, capsys, monkeypatch, credential, message):
    src = write_chat_dir(tmp_path / "in", sample_records(2))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI() as srv:
        dead = srv.base_url.replace("http://", f"http://{credential}") + "?api-key=hunter2-q"
    code = run_cli(
        _main,
        [
            "translate",
            str(src),
            "--out",
            str(tmp_path / "out"),
            "--base-url",
            dead,
            "--model",
            "m",
            "--max-attempts",
            "1",
            "--no-progress",
        ],
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.err.count("\n") == 1 and message in captured.err
    assert "hunter2" not in captured.out + captured.err
    out = tmp_path / "out"
    assert not out.exists() or b"hunter2" not in every_file(out)


def test_a_refused_connection_is_named_a_connection_error(tmp_path):
    src = write_chat_dir(tmp_path / "in", sample_records(4))
    with FakeOpenAI() as srv:
        dead_url = srv.base_url  # the port is closed once the server stops
    with pytest.raises(UsageError, match="never answered") as caught:
        translate_dir(src, tmp_path / "out", options(dead_url))
    assert "connection error" in str(caught.value) and "timed out" not in str(caught.value)


def test_a_full_disk_is_not_called_a_damaged_cache(tmp_path):
    from zqvl.data.translate.cache import TranslationCache

    cache = TranslationCache(tmp_path / "cache.sqlite")
    cache.put("k0", model="m", prompt_version="v", variant=0, source="a", translation="甲")
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count = {pages}")  # sqlite answers SQLITE_FULL, as a full disk does
    with pytest.raises(UsageError, match="cannot write the translation cache .*full.*rerun to continue"):
        cache.put("k1", model="m", prompt_version="v", variant=0, source="b" * 50_000, translation="乙" * 50_000)
    assert cache.get("k0") == "甲"
    cache.close()


def test_an_output_of_another_input_is_not_replaced(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    first = write_chat_dir(tmp_path / "first", sample_records(3, ("dog",)))
    second = write_chat_dir(tmp_path / "second", sample_records(4, ("cat",)))
    with FakeOpenAI(api_key=KEY) as srv:
        base = ["--base-url", srv.base_url, "--model", "m", "--no-progress"]
        assert run_cli(_main, ["translate", str(first), "--out", str(tmp_path / "out")] + base) == 0
        before = (tmp_path / "out" / "chat.json").read_bytes()
        assert run_cli(_main, ["translate", str(first), "--out", str(tmp_path / "out")] + base) == 0  # resume
        assert run_cli(_main, ["translate", str(second), "--out", str(tmp_path / "out")] + base) == 2
        assert "holds zqvl-data translate output of" in capsys.readouterr().err
        assert (tmp_path / "out" / "chat.json").read_bytes() == before
        assert run_cli(_main, ["translate", str(second), "--out", str(tmp_path / "out"), "--force"] + base) == 0
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    assert run_cli(_main, ["translate", str(first), "--out", str(precious)] + base) == 2
    assert sorted(p.name for p in precious.iterdir()) == ["notes.txt"]

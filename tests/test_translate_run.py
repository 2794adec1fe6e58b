"""translate_dir and the CLI against a real HTTP server on 127.0.0.1 that injects faults."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from helpers.fake_openai_server import FakeOpenAI, fake_translate
from helpers.translate_records import sample_records, write_chat_dir

from zqvl.cli.data import _main
from zqvl.data.translate import RetryPolicy, TranslateOptions, translate_dir
from zqvl.data.translate.spans import mask
from zqvl.errors import UsageError
from zqvl.ui import run_cli

KEY = "sk-test-0123456789abcdef-SECRET"
FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.05)


def zqvl_data(argv: list[str]) -> int:
    """`zqvl-data ARGV` in this process: the exit code, with errors printed as the console script does."""
    return run_cli(_main, argv)


def options(srv: FakeOpenAI, **kw) -> TranslateOptions:
    # One string per request: these tests count the single path's retries request by request (the path every
    # long string, and every packed string that failed its pack, takes). test_translate_pack covers packing.
    kw = {"concurrency": 8, "retry": FAST, "timeout": 5.0, "pack_tokens": 0, **kw}
    return TranslateOptions(base_url=srv.base_url, model="fake-mt", api_key=KEY, **kw)


def expected(source: str) -> str:
    m = mask(source)
    return m.restore(fake_translate(m.body)) if m.needs_model else source


def body(source: str) -> str:
    return mask(source).body


def read_out(out):
    chat = json.loads((out / "chat.json").read_text(encoding="utf-8"))
    failed = [json.loads(line) for line in (out / "failed.jsonl").read_text(encoding="utf-8").splitlines()]
    return chat, failed


FAULT_WORDS = ("dog", "zebra", "giraffe", "parrot", "camel", "otter", "lemur", "heron", "poison", "cat")
FAULTS = {
    "zebra": ["429"],
    "giraffe": ["500", "503"],
    "parrot": ["length"],
    "camel": ["preamble"],
    "otter": ["traditional"],
    "lemur": ["lost_placeholder"],
    "heron": ["timeout", "drop", "refusal"],
    "poison": ["lost_placeholder"] * 99,
}


def odd_records() -> list[dict]:
    return [
        {
            "id": "text-only",
            "conversations": [
                {"from": "human", "value": "Why is the sky blue?"},
                {"from": "gpt", "value": "Sunlight scatters off air molecules; blue light scatters most."},
                {"from": "human", "value": "And at 6:30 pm?"},
                {"from": "gpt", "value": "At sunset the light crosses more air, so red dominates."},
            ],
        },
        {
            "id": "two-images",
            "image": ["img1.png", "img2.png"],
            "conversations": [
                {"from": "human", "value": "<image>\n<image>\nCompare the two pictures."},
                {"from": "gpt", "value": "The first is brighter than the second."},
            ],
        },
        {
            "id": "half-done",
            "image": "img3.png",
            "conversations": [
                {"from": "human", "value": "<image>\n图里有什么？", "source": "<image>\nWhat is in the picture?"},
                {"from": "gpt", "value": "A red bus on a bridge."},
            ],
        },
        {
            "id": "nothing-to-say",
            "image": "img4.png",
            "conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "42"}],
        },
        {
            "id": "escapes",
            "image": "../secret.png",
            "conversations": [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A key."}],
        },
        {"id": "no-turns", "conversations": []},
    ]


def test_faults_are_survived_and_every_record_is_accounted_for(tmp_path):
    records = sample_records(40, FAULT_WORDS) + odd_records()
    src = write_chat_dir(tmp_path / "in", records)
    out = tmp_path / "out"
    with FakeOpenAI(api_key=KEY, faults=FAULTS, timeout_sleep=1.0) as srv:
        stats = translate_dir(src, out, options(srv, dedupe=True, timeout=0.5))
    chat, failed = read_out(out)

    # Every record is in exactly one of chat.json / failed.jsonl, in input order.
    assert sorted([r["id"] for r in chat] + [f["id"] for f in failed]) == sorted(r["id"] for r in records)
    assert [f["index"] for f in failed] == sorted(f["index"] for f in failed)
    poison = {r["id"] for r in records if "poison" in json.dumps(r)}
    by_id = {f["id"]: f for f in failed}
    assert set(by_id) == poison | {"escapes", "no-turns"}
    assert all(by_id[i]["reasons"] == ["placeholder_lost"] for i in poison)
    assert all(by_id[i]["problems"][0]["turn"] == 1 for i in poison)
    assert "gave up after 4 attempts" in by_id[next(iter(poison))]["problems"][0]["detail"]
    assert by_id["escapes"]["reasons"] == ["unsafe_image_path"]
    assert by_id["no-turns"]["reasons"] == ["schema_missing_conversations"]
    assert stats.records_failed == len(failed) == len(poison) + 2 and stats.records_written == len(chat)

    # Every turn: the right Chinese, the English under `source`, protected spans back verbatim.
    originals = {r["id"]: r for r in records}
    for rec in chat:
        for turn, orig in zip(rec["conversations"], originals[rec["id"]]["conversations"]):
            if "source" in orig:
                assert turn == orig  # already translated: kept as it was
                continue
            assert turn["source"] == orig["value"]
            assert turn["value"] == expected(orig["value"])
            assert turn["value"].count("<image>") == orig["value"].count("<image>")
            for span in mask(orig["value"]).spans:
                assert turn["value"].count(span) == orig["value"].count(span)
    sample = next(r for r in chat if r["id"] == "rec00001")["conversations"][1]["value"]
    assert '"EXIT 1"' in sample and "3.5 kg" in sample and "https://example.com/p/1" in sample
    assert next(r for r in chat if r["id"] == "nothing-to-say")["conversations"][1] == {
        "from": "gpt",
        "value": "42",
        "source": "42",
    }

    # Each fault cost exactly the retries it should; a clean string exactly one request.
    asked = Counter(srv.texts())
    answer = {w: body(next(r["conversations"][1]["value"] for r in records if w in json.dumps(r))) for w in FAULT_WORDS}
    assert asked[answer["dog"]] == 1 and asked[answer["cat"]] == 1
    assert asked[answer["zebra"]] == 2 and asked[answer["giraffe"]] == 3 and asked[answer["parrot"]] == 2
    assert asked[answer["camel"]] == 2 and asked[answer["otter"]] == 1 and asked[answer["lemur"]] == 2
    assert asked[answer["heron"]] == 4 and asked[answer["poison"]] == 4
    parrot = [r.max_tokens for r in srv.log if r.text == answer["parrot"]]
    assert parrot[1] == 2 * parrot[0]  # cut off -> retried with twice the room
    assert stats.script_converted == 4  # the otter answers, repaired with opencc
    p = stats.problems
    assert (p["rate_limited"], p["server_error"], p["truncated"], p["preamble.lead_in"]) == (4, 8, 4, 4)
    assert (p["timeout"], p["connection"]) == (4, 4)
    # A refusal also drops the answer's placeholders, which is checked first: 4 poison strings x 4 tries,
    # 4 lemur answers, 4 heron refusals.
    assert p["placeholder_lost"] == 16 + 4 + 4

    # Images are linked (same inode), never escaping images/.
    assert os.path.samefile(out / "images" / "img1.png", src / "images" / "img1.png")
    assert not (out / "secret.png").exists()
    summary = json.loads((out / "translate_summary.json").read_text())
    assert summary["records_failed"] == stats.records_failed and summary["model"] == "fake-mt"


def test_dedupe_sends_one_request_per_distinct_string_and_reruns_send_none(tmp_path):
    records = sample_records(30)
    records += [dict(r, id=r["id"] + "-again") for r in records[:6]]  # six answers repeated verbatim
    src = write_chat_dir(tmp_path / "in", records)
    distinct = {t["value"] for r in records for t in r["conversations"]}
    turns = 2 * len(records)

    with FakeOpenAI(api_key=KEY) as srv:
        stats = translate_dir(src, tmp_path / "dd", options(srv, dedupe=True))
        asked = Counter(srv.texts())
    assert set(asked.values()) == {1} and len(asked) == len(distinct) == 5 + 30
    assert set(asked) == {body(s) for s in distinct}
    assert stats.requests == len(distinct) and stats.dedupe_saving == turns - len(distinct)

    with FakeOpenAI(api_key=KEY) as srv:
        plain = translate_dir(src, tmp_path / "nodd", options(srv))
        asked_plain = Counter(srv.texts())
    assert plain.requests == sum(asked_plain.values()) == turns  # one request per turn
    assert asked_plain[body(records[0]["conversations"][0]["value"])] == 30 // 5 + 2  # its turns, repeats too
    assert read_out(tmp_path / "nodd")[0] == read_out(tmp_path / "dd")[0]

    before = (tmp_path / "dd" / "chat.json").read_bytes()
    with FakeOpenAI(api_key=KEY) as srv:
        again = translate_dir(src, tmp_path / "dd", options(srv, dedupe=True))
        assert srv.log == []  # everything came from the cache
    assert again.cache_hits == len(distinct) and again.requests == 0
    assert (tmp_path / "dd" / "chat.json").read_bytes() == before


def test_retry_after_is_honoured(tmp_path):
    src = write_chat_dir(tmp_path / "in", sample_records(3, ("zebra", "dog", "cat")))
    with FakeOpenAI(api_key=KEY, faults={"zebra": ["429"]}, retry_after="1") as srv:
        stats = translate_dir(src, tmp_path / "out", options(srv, dedupe=True))
    zebra = [r for r in srv.log if "zebra" in r.text]
    assert [r.status for r in zebra] == [429, 200]
    assert zebra[1].t - zebra[0].t >= 0.98  # the server asked for 1 s; backoff alone is 10 ms
    assert stats.records_failed == 0


def test_answers_cut_off_at_the_ceiling_fail_as_truncated(tmp_path):
    records = sample_records(2)
    records[1]["conversations"][1]["value"] = "A very long answer. " + "The dog runs far. " * 40
    src = write_chat_dir(tmp_path / "in", records)
    with FakeOpenAI(api_key=KEY) as srv:
        stats = translate_dir(src, tmp_path / "out", options(srv, dedupe=True, max_tokens=200))
    chat, failed = read_out(tmp_path / "out")
    assert [r["id"] for r in chat] == ["rec00000"] and [f["id"] for f in failed] == ["rec00001"]
    assert failed[0]["reasons"] == ["truncated"]
    long_budgets = [r.max_tokens for r in srv.log if r.text.startswith("A very long")]
    assert long_budgets == [200] * FAST.max_attempts and stats.problems["truncated"] == FAST.max_attempts


def test_rpm_limit_spaces_requests(tmp_path):
    src = write_chat_dir(tmp_path / "in", sample_records(35))
    with FakeOpenAI(api_key=KEY) as srv:
        translate_dir(src, tmp_path / "out", options(srv, dedupe=True, rpm=1200))  # 20/s, 1 s burst
    times = sorted(r.t for r in srv.log)
    assert len(times) == 40 and times[-1] - times[0] >= (40 - 20) / 20 - 0.1


def test_refused_key_stops_the_run_without_echoing_the_key(tmp_path, capsys):
    src = write_chat_dir(tmp_path / "in", sample_records(4))
    with FakeOpenAI(api_key="sk-the-right-one") as srv:
        with pytest.raises(UsageError) as e:
            translate_dir(src, tmp_path / "out", options(srv))
        assert "401" in str(e.value) and KEY not in str(e.value)
        assert all(r.status == 401 for r in srv.log) and len(srv.log) <= 8  # stopped, not hammered
        os.environ["ZQVL_TEST_KEY"] = KEY
        try:
            code = zqvl_data(
                [
                    "translate",
                    str(src),
                    "--out",
                    str(tmp_path / "out2"),
                    "--base-url",
                    srv.base_url,
                    "--model",
                    "m",
                    "--api-key-env",
                    "ZQVL_TEST_KEY",
                    "--no-progress",
                ]
            )
        finally:
            del os.environ["ZQVL_TEST_KEY"]
    captured = capsys.readouterr()
    assert code == 2 and "401" in captured.err
    assert KEY not in captured.out + captured.err
    assert not (tmp_path / "out" / "chat.json").exists()


def test_an_endpoint_that_never_answers_stops_the_run(tmp_path):
    src = write_chat_dir(tmp_path / "in", sample_records(50))
    with FakeOpenAI() as srv:
        dead_url = srv.base_url  # the port is closed once the server stops
    opts = TranslateOptions(
        base_url=dead_url, model="m", api_key=KEY, concurrency=4, retry=RetryPolicy(max_attempts=2, backoff_base=0.01)
    )
    with pytest.raises(UsageError, match="never answered"):
        translate_dir(src, tmp_path / "out", opts)
    assert not (tmp_path / "out" / "chat.json").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--base-url", "localhost:8000", "--model", "m"], "--base-url must start with http"),
        (["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key-env", "ZQVL_NOT_SET"], "not set"),
        (["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--concurrency", "0"], "must be > 0"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, argv, message):
    src = write_chat_dir(tmp_path / "in", sample_records(1))
    assert zqvl_data(["translate", str(src), "--out", str(tmp_path / "out")] + argv) == 2
    assert message in capsys.readouterr().err


def test_cli_exit_codes_and_summary(tmp_path, capsys, monkeypatch):
    src = write_chat_dir(tmp_path / "in", sample_records(6, ("dog", "poison")))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI(api_key=KEY, faults={"poison": ["english"] * 99}) as srv:
        base = ["--base-url", srv.base_url, "--model", "m", "--max-attempts", "2", "--no-progress"]
        assert zqvl_data(["translate", str(src), "--out", str(src)] + base) == 2  # never over the input
        assert zqvl_data(["translate", str(src), "--out", str(tmp_path / "o1"), "--dedupe"] + base) == 1
        ok = write_chat_dir(tmp_path / "ok", sample_records(6, ("dog", "cat")))
        assert zqvl_data(["translate", str(ok), "--out", str(tmp_path / "o2"), "--dedupe"] + base) == 0
    captured = capsys.readouterr()
    assert "records failed" in captured.out and "saved" in captured.out and "not_chinese" in captured.out
    assert "3 record(s) failed" in captured.err and KEY not in captured.out + captured.err

"""The optional LLM judge of `zqvl-data clean`, against the fake OpenAI endpoint: verdicts become reasons, every
verdict is cached so a record is never sent twice (also across a SIGKILL), and a reply that is no valid verdict
is retried, then listed as `judge.no_verdict` — never taken as "faithful"."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.clean_records import rec
from helpers.datadir import make_dir
from helpers.fake_openai_server import FakeOpenAI

from zqvl.cli.data import main
from zqvl.data.schema import parse_record
from zqvl.data.translate.judge import parse_verdict, record_prompt

OK = '{"verdict": "ok", "turn": null, "why": ""}'
ANSWERED = '{"verdict": "answered_instead", "turn": 1, "why": "the question was answered"}'


def _record(rid: str, animal: str, zh: str) -> dict:
    return rec(
        rid,
        (f"这只{zh}在做什么？", f"What is the {animal} doing?"),
        (f"这只{zh}在睡觉。", "It is sleeping."),
        image=None,
    )


RECORDS = [
    _record("fine", "giraffe", "长颈鹿"),
    _record("answered", "lighthouse", "灯塔"),
    _record("garbled", "accordion", "手风琴"),
    _record("second_try", "volcano", "火山"),
    rec(
        "rules",
        ("这是什么？", "What is this tractor?"),
        ("以下是翻译：\n这是一台拖拉机。", "It is a tractor."),
        image=None,
    ),
]
FAULTS = {
    "giraffe": ["=" + OK] * 9,
    "lighthouse": ["=" + ANSWERED] * 9,
    "accordion": ["=I think it is fine."] * 9,  # never a verdict
    "volcano": ['=```json\n{"verdict": "maybe"}\n```'] + ["=" + OK] * 9,  # invalid once, then valid
}


def requests_about(srv: FakeOpenAI, word: str) -> int:
    return sum(1 for r in srv.log if word in r.text)


def _clean(src: Path, out: Path, srv: FakeOpenAI, *extra: str) -> int:
    with pytest.raises(SystemExit) as e:
        main(["clean", str(src), "--out", str(out), "--judge-base-url", srv.base_url, "--judge-model", "judge", *extra])
    return e.value.code


def test_verdicts_become_reasons_and_are_never_asked_twice(tmp_path, capsys):
    src = make_dir(tmp_path / "in", RECORDS)
    with FakeOpenAI(faults=FAULTS) as srv:
        assert _clean(src, tmp_path / "out", srv, "--max-drop", "1") == 0
        rejected = {
            json.loads(line)["id"]: json.loads(line)["reasons"] for line in (tmp_path / "out" / "rejected.jsonl").open()
        }
        kept = [r["id"] for r in json.loads((tmp_path / "out" / "chat.json").read_text(encoding="utf-8"))]
        assert kept == ["fine", "second_try"]
        assert rejected == {
            "answered": ["judge.answered_instead"],
            "garbled": ["judge.no_verdict"],
            "rules": ["preamble.lead_in", "preamble.note"],
        }
        counts = {w: requests_about(srv, w) for w in ("giraffe", "lighthouse", "accordion", "volcano", "tractor")}
        assert counts == {"giraffe": 1, "lighthouse": 1, "accordion": 6, "volcano": 2, "tractor": 0}
        # A rerun asks only about the record that never got a verdict (nothing invalid is cached).
        assert _clean(src, tmp_path / "out", srv, "--max-drop", "1", "--force") == 0
        again = {w: requests_about(srv, w) - counts[w] for w in counts}
        assert again == {"giraffe": 0, "lighthouse": 0, "accordion": 6, "volcano": 0, "tractor": 0}
    assert "judge judge: 4 records" in capsys.readouterr().out


@pytest.mark.parametrize(
    "reply",
    ['{"verdict": "omission"}', '{"verdict": "omission", "turn": 7}', '["ok"]', "ok", '{"verdict": "fine"}'],
)
def test_invalid_verdicts_are_refused(reply):
    with pytest.raises(ValueError):
        parse_verdict(reply, turns=2)


def test_valid_verdicts_parse():
    assert parse_verdict(OK, 2) == ("ok", None, "")
    assert parse_verdict("```json\n" + ANSWERED + "\n```", 2) == ("answered_instead", 1, "the question was answered")


def test_the_judge_sees_english_and_chinese_per_turn():
    text = record_prompt(parse_record(RECORDS[0]))
    assert text.startswith("Turn 1 (human)\nEnglish: What is the giraffe doing?\nChinese: 这只长颈鹿在做什么？")
    assert "Turn 2 (gpt)\nEnglish: It is sleeping.\nChinese: 这只长颈鹿在睡觉。" in text


def test_judge_flags_come_in_pairs(tmp_path, capsys):
    src = make_dir(tmp_path / "in", RECORDS[:1])
    with pytest.raises(SystemExit) as e:
        main(["clean", str(src), "--out", str(tmp_path / "o"), "--judge-base-url", "http://127.0.0.1:9/v1"])
    assert e.value.code == 2 and "--judge-model" in capsys.readouterr().err


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_sends_no_record_twice(tmp_path):
    animals = ["otter", "badger", "walrus", "ferret", "lemur", "beaver"]
    records = [_record(a, a, "动物") for a in animals]
    for r, a in zip(records, animals):  # the Chinese must differ too, or the answers are near-duplicates
        r["conversations"][1]["value"] = f"这只{a}在睡觉。"
        r["conversations"][1]["source"] = f"The {a} is sleeping."
    src = make_dir(tmp_path / "in", records)
    out, cache = tmp_path / "out", tmp_path / "verdicts.sqlite"
    script = Path(sys.executable).with_name("zqvl-data")
    with FakeOpenAI(latency=0.4, faults={a: ["=" + OK] * 9 for a in animals}) as srv:
        argv = [str(script), "clean", str(src), "--out", str(out), "--judge-base-url", srv.base_url]
        argv += ["--judge-model", "judge", "--judge-cache", str(cache), "--judge-concurrency", "1", "--workers", "1"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        deadline = time.time() + 60
        while time.time() < deadline and _cached(cache) < 2:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        judged = {a for a in animals for content in _cached_sources(cache) if a in content}
        assert 2 <= len(judged) < len(animals) and not (out / "chat.json").exists()
        assert subprocess.run(argv, capture_output=True).returncode == 0
        sent = {a: requests_about(srv, a) for a in animals}
        # Verdicts committed before the kill are never asked again; only the one request in flight (concurrency 1)
        # at the kill is sent a second time, since its answer never arrived.
        assert all(sent[a] == 1 for a in judged) and sum(sent.values()) <= len(animals) + 1
    assert len(json.loads((out / "chat.json").read_text(encoding="utf-8"))) == len(animals)


def _cached_sources(path: Path) -> list[str]:
    with sqlite3.connect(path, timeout=1) as db:
        return [row[0] for row in db.execute("SELECT source FROM translations")]


def _cached(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0

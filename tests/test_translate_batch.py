"""translate --batch submit|status|collect against the fake endpoint's real /v1/files and /v1/batches: the
collected output is the live run's byte for byte, nothing is submitted twice, and whatever a batch did not
deliver (failed lines, rejected answers, an expired or failed batch) is translated live, and only that."""

from __future__ import annotations

import json

from helpers.fake_openai_server import FakeOpenAI
from helpers.translate_records import caption_records, sample_records, write_chat_dir

from zqvl.cli.data import _main
from zqvl.ui import run_cli


def zqvl_data(*argv) -> int:
    return run_cli(_main, [str(a) for a in argv])


def translate(src, out, srv, *extra) -> int:
    return zqvl_data(
        "translate", src, "--out", out, "--base-url", srv.base_url, "--model", "fake-mt", "--dedupe",
        "--no-progress", "--max-attempts", "3", *extra,
    )  # fmt: skip


def live(srv) -> list:
    return [r for r in srv.log if not r.batch]


def records() -> list[dict]:
    return caption_records(120) + sample_records(12)


def reference(tmp_path, src) -> bytes:
    """chat.json of a plain live run: what every batch path must end in."""
    with FakeOpenAI() as srv:
        assert translate(src, tmp_path / "live", srv) == 0
    return (tmp_path / "live" / "chat.json").read_bytes()


def test_submit_status_collect_round_trip_is_the_live_output_with_no_live_request(tmp_path, capsys):
    src = write_chat_dir(tmp_path / "in", records())
    expected = reference(tmp_path, src)
    capsys.readouterr()
    out = tmp_path / "out"
    with FakeOpenAI() as srv:
        srv.batches.polls_before_done = 2
        assert translate(src, out, srv, "--batch", "submit") == 0
        state = json.loads((out / ".batch" / "state.json").read_text())
        (part,) = state["parts"]
        shown = capsys.readouterr().out.replace("\n", " ")
        assert f"submitted {part['strings']} strings in {part['requests']} requests (1 batch(es))" in shown
        lines = (out / ".batch" / "requests-000.jsonl").read_text().splitlines()
        assert len(lines) == part["requests"] < part["strings"] / 5  # packed: a few requests for all strings
        first = json.loads(lines[0])
        assert first["url"] == "/v1/chat/completions" and first["body"]["model"] == "fake-mt"
        assert not (out / "chat.json").exists() and live(srv) == []

        assert translate(src, out, srv, "--batch", "status") == 3  # in_progress
        assert "in_progress" in capsys.readouterr().out
        assert translate(src, out, srv, "--batch", "collect") == 3  # still running: nothing written
        assert not (out / "chat.json").exists()
        assert translate(src, out, srv, "--batch", "collect") == 0
        assert live(srv) == []  # every string came from the batch
        assert len(srv.batches.batches) == 1 and srv.batches.uploads == 1
    assert (out / "chat.json").read_bytes() == expected
    summary = json.loads((out / "translate_summary.json").read_text())
    assert summary["batch"]["accepted"] == part["strings"] and summary["requests"] == 0
    assert summary["cache_hits"] == part["strings"]


def test_submit_twice_never_double_submits_even_after_a_crash_before_the_id_was_saved(tmp_path, capsys):
    src = write_chat_dir(tmp_path / "in", records())
    out = tmp_path / "out"
    with FakeOpenAI() as srv:
        srv.batches.polls_before_done = 5
        assert translate(src, out, srv, "--batch", "submit") == 0
        assert translate(src, out, srv, "--batch", "submit") == 0
        assert "already submitted: nothing new sent" in capsys.readouterr().out
        assert len(srv.batches.batches) == 1 and srv.batches.uploads == 1
        # killed after the batch was created but before its id reached state.json: found by its metadata
        state_path = out / ".batch" / "state.json"
        state = json.loads(state_path.read_text())
        batch_id = state["parts"][0]["batch_id"]
        state["parts"][0]["batch_id"] = None
        state_path.write_text(json.dumps(state))
        assert translate(src, out, srv, "--batch", "submit") == 0
        assert json.loads(state_path.read_text())["parts"][0]["batch_id"] == batch_id
        assert len(srv.batches.batches) == 1 and srv.batches.uploads == 1
        # killed after the upload, before the batch: created from the saved file, not uploaded again
        state["parts"][0]["batch_id"] = None
        state["token"] = "another-submission"
        state_path.write_text(json.dumps(state))
        assert translate(src, out, srv, "--batch", "submit") == 0
        assert len(srv.batches.batches) == 2 and srv.batches.uploads == 1


def test_failed_lines_and_rejected_answers_go_live_and_only_they(tmp_path):
    words = "zebra grazes near quiet roads while tourists photograph distant hills under clouds".split()
    varied = " ".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(6)) + "." for i in range(40))
    long = {"from": "gpt", "value": varied}  # over pack.ITEM_MAX_TOKENS: sent alone
    recs = records() + [{"id": "long", "image": "img0.png", "conversations": [long]}]
    src = write_chat_dir(tmp_path / "in", recs)
    expected = reference(tmp_path, src)
    out = tmp_path / "out"
    # the zebra request gets a 500 in the batch (an error-file line); each "horse" item a preamble (rejected)
    with FakeOpenAI(faults={"zebra": ["500"], "horse": ["preamble"]}) as srv:
        assert translate(src, out, srv, "--batch", "submit") == 0
        assert translate(src, out, srv, "--batch", "collect") == 0
        sent_live = [t for r in live(srv) for t in r.texts]
    assert (out / "chat.json").read_bytes() == expected
    horse = [r for r in recs if "horse" in r["conversations"][-1]["value"]]
    assert len(horse) == 3
    assert sum("horse" in t for t in sent_live) == 3 and sum("zebra" in t for t in sent_live) == 1
    batch = json.loads((out / "translate_summary.json").read_text())["batch"]
    assert batch["request errors"] == 1 and batch["rejected"] == 3
    assert batch["problem: preamble.lead_in"] == 3
    # live: the rejected items and the failed request's string; nothing the batch delivered
    assert len(sent_live) == batch["strings submitted"] - batch["accepted"] == 4


def test_expired_and_failed_batches_leave_their_rest_to_the_live_path(tmp_path):
    src = write_chat_dir(tmp_path / "in", records())
    expected = reference(tmp_path, src)
    for name, setup in [("expired", {"expire_after": 1}), ("failed", {"fail_validation": True})]:
        out = tmp_path / name
        with FakeOpenAI() as srv:
            for key, value in setup.items():
                setattr(srv.batches, key, value)
            assert translate(src, out, srv, "--batch", "submit") == 0
            assert translate(src, out, srv, "--batch", "collect") == 0
            state = json.loads((out / ".batch" / "state.json").read_text())
            assert state["parts"][0]["status"] == name
            result = state["parts"][0]["result"]
            assert result["requests without a result"] == (0 if name == "expired" else state["parts"][0]["requests"])
            batched = result["accepted"]
            assert (batched > 0) == (name == "expired")
            assert sum(len(r.texts) for r in live(srv)) == state["parts"][0]["strings"] - batched
        assert (out / "chat.json").read_bytes() == expected


def test_batch_errors_are_one_line(tmp_path, capsys):
    src = write_chat_dir(tmp_path / "in", records())
    with FakeOpenAI() as srv:
        assert translate(src, tmp_path / "none", srv, "--batch", "collect") == 2
        assert "no batch submitted here; run --batch submit first" in capsys.readouterr().err
        assert translate(src, tmp_path / "out", srv, "--batch", "submit") == 0
        code = zqvl_data(
            "translate", src, "--out", tmp_path / "out", "--base-url", srv.base_url, "--model", "other",
            "--batch", "collect", "--no-progress",
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and "submitted for --model fake-mt, not other" in err and "Traceback" not in err
    with FakeOpenAI(api_key="sk-right-key-123") as srv:
        import os

        os.environ["ZQVL_TEST_KEY"] = "sk-wrong-key-456"
        try:
            code = translate(src, tmp_path / "auth", srv, "--batch", "submit", "--api-key-env", "ZQVL_TEST_KEY")
        finally:
            del os.environ["ZQVL_TEST_KEY"]
        err = capsys.readouterr().err
        assert code == 2 and "uploading the batch file failed (HTTP 401" in err and "sk-wrong-key-456" not in err

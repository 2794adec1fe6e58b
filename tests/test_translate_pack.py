"""Request packing: short strings several to a request, each checked alone; a failed item or a reply whose
numbering is off goes back alone; the output is the one an unpacked run writes; the bill drops to ~2x the text."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers.fake_openai_server import FakeOpenAI
from helpers.translate_records import caption_records, sample_records, write_chat_dir

from zqvl.cli.data.translate import qwen_counters
from zqvl.data.translate import RetryPolicy, TranslateOptions, translate_dir
from zqvl.data.translate.estimate import estimate
from zqvl.data.translate.pack import MAX_ITEMS, pack_jobs, pack_messages, split_reply
from zqvl.data.translate.spans import mask

FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.02)


def run(src, out, srv, **kw):
    opts = TranslateOptions(base_url=srv.base_url, model="fake-mt", concurrency=4, retry=FAST, timeout=5.0, **kw)
    return translate_dir(src, out, opts)


def chat_bytes(out) -> bytes:
    return (out / "chat.json").read_bytes()


def test_split_reply_takes_exactly_the_numbering_it_sent():
    assert split_reply("[[1]]\n一\n[[2]]\n二\n第二行\n[[3]]\n三", 3) == ["一", "二\n第二行", "三"]
    assert split_reply("  [[1]] \n一\n[[2]]\n二", 2) == ["一", "二"]  # stray spaces around a marker
    assert split_reply("[[1]]\n一\n[[3]]\n三", 3) is None  # one skipped
    assert split_reply("[[1]]\n一 二\n[[3]]\n三", 3) is None  # two merged
    assert split_reply("[[2]]\n二\n[[1]]\n一", 2) is None  # reordered
    assert split_reply("[[1]]\n一\n[[2]]\n二\n[[3]]\n三", 2) is None  # one invented
    assert split_reply("一\n二", 2) is None


def test_grouping_packs_short_strings_and_sends_long_or_marker_strings_alone():
    short = [f"a dog number {i}" for i in range(120)]
    long = "A long answer. " * 80  # > ITEM_MAX_TOKENS
    marker = "a list\n[[2]]\nthat looks like our numbering"
    groups = list(pack_jobs([*short[:60], long, marker, *short[60:]], lambda s: s, 1000))
    assert [long] in groups and [marker] in groups
    packed = [g for g in groups if len(g) > 1]
    assert all(len(g) <= MAX_ITEMS for g in packed)
    assert [s for g in packed for s in g] == short  # order kept
    assert list(pack_jobs(short[:5], lambda s: s, 0)) == [[s] for s in short[:5]]  # --pack-tokens 0: off
    small = list(pack_jobs(short, lambda s: s, 20))
    assert all(sum(len(s) // 4 + 1 for s in g) <= 20 for g in small) and len(small) > 20
    system, user = pack_messages(["one ⟦1⟧", "two"])
    assert user["content"] == "[[1]]\none ⟦1⟧\n[[2]]\ntwo" and "[[n]]" in system["content"]


def test_packed_run_writes_what_an_unpacked_run_writes_in_a_tenth_of_the_requests(tmp_path):
    src = write_chat_dir(tmp_path / "in", caption_records(300) + sample_records(20))
    with FakeOpenAI() as srv:
        single = run(src, tmp_path / "single", srv, dedupe=True, pack_tokens=0)
    with FakeOpenAI() as srv:
        packed = run(src, tmp_path / "packed", srv, dedupe=True)
        log = list(srv.log)
    assert chat_bytes(tmp_path / "packed") == chat_bytes(tmp_path / "single")
    distinct = single.requests
    assert packed.requests <= distinct / 10 and packed.translated == single.translated == distinct
    assert Counter(srv.texts()) == Counter({t: 1 for t in srv.texts()})  # every string asked exactly once
    assert packed.packed_strings == distinct and packed.pack_fallbacks == 0
    for r in log:  # every pack's items went out in the run's order, numbered 1..n
        assert r.text == pack_messages(list(r.texts))[1]["content"] or len(r.texts) == 1


@pytest.mark.parametrize("fault", ["merge", "skip"])
def test_a_reply_that_merges_or_drops_an_item_sends_every_item_of_that_pack_back_alone(tmp_path, fault):
    records = caption_records(40)
    records[17]["conversations"][1]["value"] = "a zebra crosses the road"
    src = write_chat_dir(tmp_path / "in", records)
    with FakeOpenAI() as srv:
        run(src, tmp_path / "ref", srv, dedupe=True, pack_tokens=0)
    with FakeOpenAI(faults={"zebra": [fault]}) as srv:
        stats = run(src, tmp_path / "out", srv, dedupe=True, pack_tokens=120)
        broken = next(r for r in srv.log if any("zebra" in t for t in r.texts))
        alone = [r.text for r in srv.log if not r.items]
    assert len(broken.texts) > 2 and stats.problems["pack.numbering"] == 1
    assert sorted(alone) == sorted(broken.texts)  # that pack's items, each once more on its own
    assert stats.pack_fallbacks == len(broken.texts) and stats.records_failed == 0
    assert chat_bytes(tmp_path / "out") == chat_bytes(tmp_path / "ref")


def test_an_item_that_fails_its_check_goes_back_alone_and_the_rest_of_its_pack_is_kept(tmp_path):
    records = caption_records(30)
    records[5]["conversations"][1]["value"] = "an owl sleeps in a tree"
    records[9]["conversations"][1]["value"] = "a poison frog on a leaf"
    src = write_chat_dir(tmp_path / "in", records)
    faults = {"owl": ["preamble"], "poison": ["english"] * 9}  # an echo of the English: never Chinese
    with FakeOpenAI(faults=faults) as srv:
        stats = run(src, tmp_path / "out", srv, dedupe=True)
        asked = Counter(srv.texts())
    owl, poison = mask("an owl sleeps in a tree").body, mask("a poison frog on a leaf").body
    assert asked[owl] == 2  # in the pack (a preamble: rejected), then alone (fine)
    assert asked[poison] == 1 + FAST.max_attempts  # then the single path's tries, and it fails
    assert all(n == 1 for t, n in asked.items() if t not in (owl, poison))
    assert stats.problems["preamble.lead_in"] == 1 and stats.pack_fallbacks == 2
    failed = [json.loads(line) for line in (tmp_path / "out" / "failed.jsonl").read_text().splitlines()]
    assert [f["id"] for f in failed] == ["cap000009"]
    chat = json.loads(chat_bytes(tmp_path / "out"))
    assert next(r for r in chat if r["id"] == "cap000005")["conversations"][1]["source"] == "an owl sleeps in a tree"


def test_a_pack_hit_by_a_transport_fault_is_retried_as_a_pack(tmp_path):
    src = write_chat_dir(tmp_path / "in", caption_records(20) + sample_records(2, ("zebra",)))
    with FakeOpenAI(faults={"zebra": ["429", "500"]}) as srv:
        stats = run(src, tmp_path / "out", srv, dedupe=True)
        statuses = [r.status for r in srv.log if any("zebra" in t for t in r.texts)]
    assert statuses == [429, 500, 200] and stats.pack_fallbacks == 0 and stats.records_failed == 0


def test_captions_bill_at_most_3x_their_text_and_the_dry_run_matches_the_measured_bill(tmp_path, qwen_tokenizer):
    count_messages, count_text = qwen_counters()
    src = write_chat_dir(tmp_path / "in", caption_records(600))
    plans = {
        n: estimate(
            src,
            "fake-mt",
            dedupe=True,
            limit=None,
            cache_path=None,
            pack_tokens=n,
            count_messages=count_messages,
            count_text=count_text,
        )
        for n in (0, 1000)
    }
    single, packed = plans[0], plans[1000]
    assert single.prompt_tokens / single.source_tokens > 20  # the system prompt dominates, one per caption
    assert packed.prompt_tokens <= 3 * packed.source_tokens and packed.requests <= packed.distinct / 10
    with FakeOpenAI(count_tokens=count_messages) as srv:
        measured = run(src, tmp_path / "out", srv, dedupe=True)
    assert measured.requests == packed.requests
    assert abs(measured.prompt_tokens - packed.prompt_tokens) <= 0.1 * packed.prompt_tokens

"""Answer checks: reject what clean would drop, and what LLMs add around a translation; repair only what is safe."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from helpers.fake_openai_server import FakeOpenAI
from helpers.translate_records import write_chat_dir

from zqvl.data.clean import REGISTRY
from zqvl.data.translate import RetryPolicy, TranslateOptions, translate_dir
from zqvl.data.translate.check import TURN_FAMILIES, check_answer, clean_reasons, feedback
from zqvl.data.translate.client import parse_retry_after
from zqvl.data.translate.ratelimit import RateLimiter
from zqvl.data.translate.spans import mask


def verdict(source: str, answer: str):
    return check_answer(mask(source), answer)


def test_clean_answer_is_accepted_unchanged():
    v = verdict("What does this image show?", "这张图片显示了什么？")
    assert v.ok and v.text == "这张图片显示了什么？" and not v.script_converted


# One planted defect per clean family that judges a single turn: (family, source, bad answer, clean's code,
# a faithful answer). Answers are masked bodies, as the model sees and returns them (⟦n⟧ = protected spans).
PER_FAMILY = [
    (
        "preamble",
        "What does this image show?",
        "以下是翻译：\n这张图片显示了什么？",
        "preamble.lead_in",
        "这张图片显示了什么？",
    ),
    (
        "refusal",
        "Describe the picture in detail.",
        "抱歉，我无法协助完成这个请求。",
        "refusal.apology",
        "请详细描述这张图片。",
    ),
    (
        "truncation",
        "The dog is sitting on the red sofa next to the window, looking outside.",
        "这只狗坐在窗边的红色沙发上，",
        "truncation.mid_sentence",
        "这只狗坐在窗边的红色沙发上，望着外面。",
    ),
    ("repetition", "The puppy sleeps on the sofa.", "小狗在沙发上睡觉。" * 4, "repetition.loop", "小狗在沙发上睡觉。"),
    (
        "untranslated",
        "The cat is sitting on the red sofa next to the window.",
        "这只猫 is sitting on the red sofa，在窗边。",
        "untranslated.residue",
        "这只猫坐在窗边的红色沙发上。",
    ),
    (
        "ocr",
        "DESCRIPTION: A bakery shop front.\nTEXT: Fresh Bread Daily",
        "⟦1⟧：一家面包店的店面。\n⟦2⟧：每日新鲜面包",
        "ocr.not_verbatim",
        "⟦1⟧：一家面包店的店面。\n⟦2⟧：Fresh Bread Daily",
    ),
    ("numbers", "There are three cats on the bed.", "床上有两只猫。", "numbers.missing", "床上有三只猫。"),
    (
        "markdown",
        "Steps:\n1. Open the box.\n2. Remove the phone.\n3. Charge it.",
        "步骤：1. 打开盒子。2. 取出手机。3. 给它充电。",
        "markdown.list_collapsed",
        "步骤：\n1. 打开盒子。\n2. 取出手机。\n3. 给它充电。",
    ),
    ("placeholder", "What is in this picture?", "这张<图像>里有什么？", "placeholder.mangled", "这张图片里有什么？"),
    ("answered", "What animal is on the sofa?", "沙发上有一只猫。", "answered.not_a_question", "沙发上是什么动物？"),
    (
        "omission",
        "A kite flies over the beach.\n\nA child holds its string.\n\nGulls circle above.",
        "一只风筝在海滩上空飞。\n\n海鸥在上空盘旋。",
        "omission.paragraphs",
        "一只风筝在海滩上空飞。\n\n一个孩子拉着线。\n\n海鸥在上空盘旋。",
    ),
    ("junk", "A dog on a sofa.", '{"translation": "沙发上的一只狗。"}', "junk.json", "沙发上的一只狗。"),
]


def test_every_per_turn_family_is_covered():
    assert set(TURN_FAMILIES) == set(REGISTRY) - {"structure"}
    assert {f for f, *_ in PER_FAMILY} | {"script"} == set(TURN_FAMILIES)  # script: repaired, see below


@pytest.mark.parametrize("family, source, bad, code, good", PER_FAMILY, ids=[c[0] for c in PER_FAMILY])
def test_what_clean_drops_is_rejected_with_clean_s_code(family, source, bad, code, good):
    v = verdict(source, bad)
    assert not v.ok and v.code == code and v.detail
    assert verdict(source, good).ok


def test_traditional_script_is_what_clean_drops_and_is_repaired_not_retried():
    source = "The weather is nice today, good for a walk."
    assert clean_reasons(source, "今天天氣很好，適合散步。") == ["script.traditional"]
    v = verdict(source, "今天天氣很好，適合散步。")
    assert v.ok and v.script_converted and v.text == "今天天气很好，适合散步。"


@pytest.mark.parametrize(
    "answer, code",
    [
        ("翻译：这张图片显示了什么？", "preamble.lead_in"),
        ("Here is the translation: 这张图片显示了什么？", "preamble.lead_in"),
        ("好的，这张图片显示了什么？", "preamble.lead_in"),
        ("作为一个AI语言模型，我不能这样做。", "refusal.ai_self"),
        ("这张图片显示了什么？\n（注：这是直译。）", "preamble.note"),
        ("这张图片显示了什么？\n\n这句话是在询问图片内容。", "extra_paragraph"),
        ("", "empty"),
        ("What does this image show?", "not_chinese"),
        ("この画像は何を示していますか？", "script.kana"),
        ("这张图片显示了什么？" * 20, "too_long"),
    ],
)
def test_additions_are_rejected(answer, code):
    v = verdict("What does this image show?", answer)
    assert not v.ok and v.code == code


def test_planted_defects_are_retried_end_to_end(tmp_path):
    """Through the real client against the fake server: each planted answer costs one retry, with clean's code
    as the reason, and the faithful second answer is what gets written."""
    records = [
        {"id": family, "conversations": [{"from": "human", "value": "Describe it."}, {"from": "gpt", "value": source}]}
        for family, source, *_ in PER_FAMILY
    ]
    faults = {mask(source).body: ["=" + bad, "=" + good] for _, source, bad, _, good in PER_FAMILY}
    src = write_chat_dir(tmp_path / "in", records)
    with FakeOpenAI(faults=faults) as srv:
        stats = translate_dir(
            src,
            tmp_path / "out",
            TranslateOptions(
                base_url=srv.base_url,
                model="fake",
                concurrency=4,
                retry=RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05),
            ),
        )
    chat = {r["id"]: r for r in json.loads((tmp_path / "out" / "chat.json").read_text(encoding="utf-8"))}
    assert stats.records_failed == 0
    for family, source, _, _, good in PER_FAMILY:
        m = mask(source)
        assert srv.requests_for(m.body) == 2, family
        assert chat[family]["conversations"][1] == {"from": "gpt", "value": m.restore(good), "source": source}
    assert {c: stats.problems[c] for *_, c, _ in PER_FAMILY} == {c: 1 for *_, c, _ in PER_FAMILY}


def test_checks_are_source_aware():
    # The English itself apologises / says "Note:" / starts with "Sure": the Chinese may do the same.
    assert verdict("I'm sorry, I cannot identify the person in the image.", "抱歉，我无法识别图片中的人。").ok
    assert verdict("Note: the photo is blurry.", "注：这张照片很模糊。").ok
    assert verdict("Sure, the dog is brown.", "好的，这只狗是棕色的。").ok
    assert verdict("Unfortunately, we lost the game.", "很遗憾，我们输了比赛。").ok
    assert verdict("First line.\n\nSecond paragraph.", "第一行。\n\n第二段。").ok
    # Chinese words inside a sentence are not a preamble.
    assert verdict("This is a Chinese book.", "这是一本中文书。").ok


def test_placeholders_must_come_back_exactly_once():
    src = 'The sign reads "EXIT" and the door says "PUSH".'
    assert verdict(src, "标志上写着⟦1⟧，门上写着⟦2⟧。").ok
    assert verdict(src, "标志上写着⟦1⟧，门上写着。").code == "placeholder_lost"
    assert verdict(src, "标志上写着⟦1⟧⟦1⟧，门上写着⟦2⟧。").code == "placeholder_duplicated"
    # Harmless spacing inside a placeholder is repaired, not rejected.
    assert verdict(src, "标志上写着⟦ 1 ⟧，门上写着⟦2⟧。").text == "标志上写着⟦1⟧，门上写着⟦2⟧。"


def test_wrapping_quotes_are_removed_and_traditional_script_converted():
    v = verdict("What does this image show?", "“这张图片显示了什么？”")
    assert v.ok and v.text == "这张图片显示了什么？"
    v = verdict("What does this image show?", "這張圖片顯示了什麼？")
    assert v.ok and v.script_converted and v.text == "这张图片显示了什么？"


def test_traditional_conversion_never_touches_protected_text():
    m = mask('The sign reads "這裡" in red.')  # OCR text in Traditional script stays as the image shows it
    v = check_answer(m, "標誌上寫着⟦1⟧，是紅色的。")
    assert v.ok and v.script_converted
    assert m.restore(v.text) == '标志上写着"這裡"，是红色的。'


def test_feedback_names_the_problem():
    assert "a lead-in the source does not have" in feedback("preamble.lead_in", "")
    assert "paragraph" in feedback("extra_paragraph", "")
    assert "⟦2⟧" in feedback("placeholder_lost", "missing ⟦2⟧")


def test_retry_after_header_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_token_bucket_paces_tokens_per_minute():
    limiter = RateLimiter(tpm=60_000)  # 1000 tokens/s, at most one second of burst

    async def spend():
        start = time.monotonic()
        for _ in range(6):
            await limiter.acquire(250)  # 1500 tokens: 1000 at once, 500 more need half a second
        return time.monotonic() - start

    assert asyncio.run(spend()) >= 0.45
    refunded = RateLimiter(tpm=60_000)
    asyncio.run(refunded.acquire(1000))
    refunded.settle(estimated=1000, actual=0)  # the request never reached the server: budget comes back
    assert asyncio.run(_timed(refunded.acquire(900))) < 0.2


async def _timed(coro):
    start = time.monotonic()
    await coro
    return time.monotonic() - start


def test_pause_holds_every_request():
    limiter = RateLimiter()
    limiter.pause(0.3)
    assert asyncio.run(_timed(limiter.acquire(1))) >= 0.25


INSTRUCTION = "Summarize the text on the poster in one sentence."
CARRIED_OUT = "这张海报宣传的是本周六的免费爵士音乐会。"
TRANSLATED = "用一句话概括海报上的文字。"


def test_an_instruction_carried_out_is_rejected_where_a_human_turn_carries_it():
    # clean's one human-only check: a string some human turn carries is also checked as that turn
    v = check_answer(mask(INSTRUCTION), CARRIED_OUT, asked=True)
    assert not v.ok and v.code == "answered.instruction_done"
    assert check_answer(mask(INSTRUCTION), TRANSLATED, asked=True).ok
    assert check_answer(mask(INSTRUCTION), CARRIED_OUT).ok  # only ever an answer: an answer may state things


def test_a_batch_reply_is_checked_with_the_human_turn_flag_its_job_was_written_with():
    from zqvl.data.translate.client import Completion
    from zqvl.data.translate.stats import Stats
    from zqvl.data.translate.translator import accept_reply

    reply = Completion(content=CARRIED_OUT, finish_reason="stop", prompt_tokens=10, completion_tokens=10)
    assert accept_reply([mask(INSTRUCTION)], reply, Stats(), [True]) == [None]
    assert accept_reply([mask(INSTRUCTION)], reply, Stats(), None)[0].translation == CARRIED_OUT


def test_an_instruction_carried_out_is_retried_in_a_human_turn_only(tmp_path):
    """End to end: the human turn's instruction is retried; the same kind of words as an answer are not."""
    records = [
        {"id": "asks", "conversations": [{"from": "human", "value": INSTRUCTION}, {"from": "gpt", "value": "Ok."}]},
        {"id": "says", "conversations": [{"from": "human", "value": "Go on."}, {"from": "gpt", "value": "Point the lens at the sign first."}]},
    ]  # fmt: skip
    faults = {
        mask(INSTRUCTION).body: ["=" + CARRIED_OUT, "=" + TRANSLATED],
        mask("Point the lens at the sign first.").body: ["=先把镜头对准路牌。"],
    }
    src = write_chat_dir(tmp_path / "in", records)
    retry = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05)
    with FakeOpenAI(faults=faults) as srv:
        opts = TranslateOptions(base_url=srv.base_url, model="fake", concurrency=2, retry=retry)
        stats = translate_dir(src, tmp_path / "out", opts)
    chat = {r["id"]: r for r in json.loads((tmp_path / "out" / "chat.json").read_text(encoding="utf-8"))}
    assert chat["asks"]["conversations"][0]["value"] == TRANSLATED
    assert chat["says"]["conversations"][1]["value"] == "先把镜头对准路牌。"
    assert srv.requests_for(mask(INSTRUCTION).body) == 2
    assert srv.requests_for(mask("Point the lens at the sign first.").body) == 1
    assert stats.problems["answered.instruction_done"] == 1

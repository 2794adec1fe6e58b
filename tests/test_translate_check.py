"""Answer checks: reject what LLMs add around a translation, repair only what is safe to repair."""
from __future__ import annotations

import asyncio
import time

import pytest

from zqvl.data.translate.check import check_answer, feedback
from zqvl.data.translate.client import parse_retry_after
from zqvl.data.translate.ratelimit import RateLimiter
from zqvl.data.translate.spans import mask


def verdict(source: str, answer: str):
    return check_answer(mask(source), answer)


def test_clean_answer_is_accepted_unchanged():
    v = verdict("What does this image show?", "这张图片显示了什么？")
    assert v.ok and v.text == "这张图片显示了什么？" and not v.script_converted


@pytest.mark.parametrize("answer, code", [
    ("以下是翻译：\n这张图片显示了什么？", "preamble"),
    ("翻译：这张图片显示了什么？", "preamble"),
    ("Here is the translation: 这张图片显示了什么？", "preamble"),
    ("好的，这张图片显示了什么？", "preamble"),
    ("抱歉，我无法翻译这段内容。", "refusal"),
    ("作为一个AI语言模型，我不能这样做。", "refusal"),
    ("这张图片显示了什么？\n（注：这是直译。）", "commentary"),
    ("这张图片显示了什么？\n\n这句话是在询问图片内容。", "commentary"),
    ("", "empty"),
    ("What does this image show?", "not_chinese"),
    ("この画像は何を示していますか？", "not_chinese"),
    ("这张图片显示了什么？" * 20, "too_long"),
    ("这张图片显示了什么？(What does this image show?)", "echoes_source"),
])
def test_additions_are_rejected(answer, code):
    v = verdict("What does this image show?", answer)
    assert not v.ok and v.code == code


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
    m = mask('The sign reads "這裡" in red.')   # OCR text in Traditional script stays as the image shows it
    v = check_answer(m, "標誌上寫着⟦1⟧，是紅色的。")
    assert v.ok and v.script_converted
    assert m.restore(v.text) == "标志上写着\"這裡\"，是红色的。"


def test_feedback_names_the_problem():
    assert "preamble" in feedback("preamble", "")
    assert "⟦2⟧" in feedback("placeholder_lost", "missing ⟦2⟧")


def test_retry_after_header_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0   # in the past
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_token_bucket_paces_tokens_per_minute():
    limiter = RateLimiter(tpm=60_000)   # 1000 tokens/s, at most one second of burst

    async def spend():
        start = time.monotonic()
        for _ in range(6):
            await limiter.acquire(250)   # 1500 tokens: 1000 at once, 500 more need half a second
        return time.monotonic() - start

    assert asyncio.run(spend()) >= 0.45
    refunded = RateLimiter(tpm=60_000)
    asyncio.run(refunded.acquire(1000))
    refunded.settle(estimated=1000, actual=0)   # the request never reached the server: budget comes back
    assert asyncio.run(_timed(refunded.acquire(900))) < 0.2


async def _timed(coro):
    start = time.monotonic()
    await coro
    return time.monotonic() - start


def test_pause_holds_every_request():
    limiter = RateLimiter()
    limiter.pause(0.3)
    assert asyncio.run(_timed(limiter.acquire(1))) >= 0.25

"""The fake endpoint itself: deterministic, exactly repairable faults, honest max_tokens. The translate tests
are only as good as this server, so it gets its own checks (over real HTTP, with the real openai client)."""

from __future__ import annotations

import asyncio

import opencc
import pytest
from helpers.fake_openai_server import LETTERS, WORDS, FakeOpenAI, fake_translate


def test_every_fake_character_survives_traditional_and_back():
    s2t, t2s = opencc.OpenCC("s2t"), opencc.OpenCC("t2s")
    assert len(set(LETTERS)) == 26 and all(s2t.convert(c) != c for c in LETTERS)  # the fault is visible
    for text in [LETTERS, *WORDS.values(), fake_translate("What does this image show? A zebra reads ⟦1⟧.")]:
        assert t2s.convert(s2t.convert(text)) == text


def test_translation_is_deterministic_and_keeps_placeholders():
    text = "Scene 7: a dog near ⟦1⟧ and ⟦2⟧.\nWhat is it?"
    out = fake_translate(text)
    assert out == fake_translate(text) and "⟦1⟧" in out and "⟦2⟧" in out and "7" in out and "\n" in out
    assert not any(c.isascii() and c.isalpha() for c in out)


def _ask(base_url: str, text: str, max_tokens: int = 500, key: str = "k"):
    import openai

    async def go():
        client = openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=2)
        try:
            return await client.post(
                "/chat/completions",
                cast_to=object,
                body={"model": "m", "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]},
            )
        finally:
            await client.close()

    return asyncio.run(go())


def test_faults_follow_the_plan_then_the_answer_is_clean():
    import openai

    with FakeOpenAI(faults={"zebra": ["429", "preamble", "traditional"]}, retry_after="7") as srv:
        with pytest.raises(openai.RateLimitError) as e:
            _ask(srv.base_url, "a zebra")
        assert e.value.response.headers["retry-after"] == "7"
        assert _ask(srv.base_url, "a zebra")["choices"][0]["message"]["content"].startswith("以下是翻译")
        traditional = _ask(srv.base_url, "a zebra")["choices"][0]["message"]["content"]
        clean = _ask(srv.base_url, "a zebra")["choices"][0]["message"]["content"]
        assert clean == fake_translate("a zebra") != traditional
        assert opencc.OpenCC("t2s").convert(traditional) == clean
        assert [r.status for r in srv.log] == [429, 200, 200, 200] and srv.requests_for("a zebra") == 4


def test_max_tokens_is_honoured_like_a_real_server():
    with FakeOpenAI() as srv:
        reply = _ask(srv.base_url, "What does this image show with many many words", max_tokens=5)
    assert reply["choices"][0]["finish_reason"] == "length"
    assert len(reply["choices"][0]["message"]["content"]) == 5 == reply["usage"]["completion_tokens"]


def test_wrong_key_is_refused():
    import openai

    with FakeOpenAI(api_key="right") as srv:
        with pytest.raises(openai.AuthenticationError):
            _ask(srv.base_url, "hello", key="wrong")
        assert _ask(srv.base_url, "hello", key="right")["choices"][0]["finish_reason"] == "stop"

"""One chat completion against any OpenAI-compatible endpoint (OpenAI, vLLM, a Qwen API), through `openai`.

The SDK's own retries are off (max_retries=0): retries, backoff and Retry-After belong to the translator,
which also has to retry on bad *content*. Requests go through the client's generic `post` with a plain dict
and come back as plain JSON: the typed `chat.completions.create` spends ~0.4 ms per call building and
validating pydantic models, which at hundreds of requests per second is the bottleneck, and plain JSON also
tolerates servers that add or omit fields. Every error becomes a CallError saying whether to retry; its
text has the API key scrubbed, because some servers echo the key they were sent.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@dataclass
class Completion:
    content: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class CallError(Exception):
    def __init__(
        self, kind: str, detail: str, *, retryable: bool, fatal: bool = False, retry_after: float | None = None
    ):
        super().__init__(detail)
        self.kind, self.detail = kind, detail
        self.retryable, self.fatal, self.retry_after = retryable, fatal, retry_after


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date); None if absent."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def public_url(url: str) -> str:
    """The endpoint without user:password@ or a query string, where some setups carry credentials."""
    parts = urlsplit(url)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def url_secrets(url: str) -> list[str]:
    """What a --base-url may carry that must never be printed: user:password@ and the query string."""
    parts = urlsplit(url)
    found = [s for s in (parts.password, parts.username, parts.query) if s]
    if parts.username and parts.password:
        found.insert(0, f"{parts.username}:{parts.password}")
    return found


class Secrets:
    """The API key and a --base-url's credentials: scrubbed from every message, refused in every answer."""

    def __init__(self, api_key: str, base_url: str):
        # longest first, so a secret that contains another is scrubbed whole
        self._all = sorted({s for s in [api_key, *url_secrets(base_url)] if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._all:
            text = text.replace(secret, "***")
        return text

    def leaks(self, text: str) -> bool:
        return any(secret in text for secret in self._all)


def _cause_named(error: BaseException, *fragments: str) -> BaseException | None:
    """The first exception in `error`'s cause chain whose class name contains one of `fragments`."""
    while error is not None:
        if any(f in type(error).__name__ for f in fragments):
            return error
        error = error.__cause__ or error.__context__
    return None


def parse_completion(data: Any, redact: Callable[[str], str] = str) -> Completion:
    """The answer of a parsed chat-completion body (a live reply's, or a Batch API result line's), or a
    retryable CallError for any shape that is not a chat completion."""
    try:
        choice = data["choices"][0]
        content = choice["message"].get("content")
        content = "" if content is None else content
        usage = data.get("usage") or {}
        if not isinstance(content, str):
            raise TypeError(f"content is {type(content).__name__}")
        return Completion(
            content,
            str(choice.get("finish_reason") or "stop"),
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, RecursionError) as e:
        shown = f"{type(data).__name__}" if isinstance(data, (dict, list)) else repr(str(data)[:80])
        raise CallError(
            "bad_response",
            redact(f"malformed completion ({e.__class__.__name__}: {str(e)[:80]}; body {shown})"),
            retryable=True,
        ) from None


class Endpoint:
    def __init__(self, base_url: str, model: str, api_key: str, timeout: float):
        import openai  # heavy import, only when translating

        if urlsplit(base_url).username is not None:
            # aiohttp refuses a URL's user:password@ beside the API key's Authorization header (at request time,
            # as a ValueError indistinguishable from a broken body); say so now, without echoing either secret
            from zqvl.errors import UsageError

            raise UsageError(
                f"--base-url {public_url(base_url)} carries user:password@; an OpenAI-compatible "
                "endpoint takes the key from --api-key-env instead"
            )
        self._openai = openai
        self.model = model
        self.base_url = public_url(base_url)  # for messages
        # longest first, so a secret that contains another is scrubbed whole
        self._secrets = Secrets(api_key, base_url)
        # The aiohttp transport (openai[aiohttp]) costs ~30% less CPU per request than the default httpx one:
        # at high concurrency against a fast endpoint the client, not the server, is the limit.
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "EMPTY",
            max_retries=0,
            timeout=timeout,
            http_client=openai.DefaultAioHttpClient(timeout=timeout),
        )
        self._budget_param = "max_tokens"
        self.redact, self.leaks_secret = self._secrets.redact, self._secrets.leaks

    def _status_error(self, e) -> CallError:
        status = e.status_code
        body = e.body if isinstance(e.body, dict) else {}
        message = (body.get("message") or (body.get("error") or {}).get("message")) if body else None
        detail = self.redact(f"HTTP {status}: {message or e.message}")[:300]
        if status == 429 or status in (408, 409) or status >= 500:
            kind = "rate_limited" if status == 429 else "timeout" if status == 408 else "server_error"
            return CallError(kind, detail, retryable=True, retry_after=parse_retry_after(e.response.headers))
        if status in (401, 403):
            return CallError("auth", f"the endpoint refused the API key ({detail})", retryable=False, fatal=True)
        if status == 404:
            return CallError("not_found", f"wrong --base-url or --model? ({detail})", retryable=False, fatal=True)
        return CallError("bad_request", detail, retryable=False)

    async def complete(self, messages: list[dict], max_tokens: int, temperature: float) -> Completion:
        openai = self._openai
        body = {"model": self.model, "messages": messages, self._budget_param: max_tokens, "temperature": temperature}
        try:
            data = await self._client.post("/chat/completions", body=body, cast_to=object)
        except openai.APIStatusError as e:
            err = self._status_error(e)
            # Newer OpenAI models only take max_completion_tokens; switch once and retry at once.
            if (
                err.kind == "bad_request"
                and "max_completion_tokens" in err.detail
                and self._budget_param == "max_tokens"
            ):
                self._budget_param = "max_completion_tokens"
                return await self.complete(messages, max_tokens, temperature)
            raise err from None
        except openai.APITimeoutError as e:
            # The aiohttp transport reports a server that hung up, and a refused connection, as a timeout; name
            # them for what they are.
            dropped = _cause_named(e, "Disconnected", "ConnectionRefused", "ClientConnector", "ConnectionReset")
            if dropped is not None:
                raise CallError("connection", f"connection error: {type(dropped).__name__}", retryable=True) from None
            raise CallError("timeout", "request timed out", retryable=True) from None
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e
            raise CallError(
                "connection", self.redact(f"connection error: {type(cause).__name__}"), retryable=True
            ) from None
        except openai.APIError as e:
            raise CallError("bad_response", self.redact(str(e))[:300], retryable=True) from None
        except (ValueError, RecursionError, TypeError, UnicodeError) as e:
            # a 200 whose body is not JSON, is empty, or nests too deep to parse: the server's fault, retry it
            raise CallError("bad_response", f"unreadable response body ({type(e).__name__})", retryable=True) from None
        completion = self._completion(data)
        if self.leaks_secret(completion.content):
            # an endpoint that echoes the key into an answer must not get it stored in chat.json or the cache
            raise CallError(
                "bad_response", "the answer contains the API key or a URL credential; not stored", retryable=True
            )
        return completion

    def _completion(self, data: Any) -> Completion:
        return parse_completion(data, self.redact)

    async def close(self) -> None:
        await self._client.close()

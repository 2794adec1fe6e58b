"""The translation prompt: a readable, versioned template file (prompts/v1.txt) plus the chat messages.

PROMPT_VERSION joins the file's name with a hash of its text and of the masking rules, so the cache never
serves an answer produced under a different prompt or different placeholders, even if someone edits the
file without renaming it. To change the prompt, add prompts/v2.txt and point PROMPT_NAME at it.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

from zqvl.data.translate.spans import MASK_VERSION

PROMPT_NAME = "v1"
SYSTEM_PROMPT = (files("zqvl.data.translate") / "prompts" / f"{PROMPT_NAME}.txt").read_text("utf-8").strip()
PROMPT_VERSION = f"{PROMPT_NAME}-" + hashlib.sha256(f"{SYSTEM_PROMPT}\n{MASK_VERSION}".encode()).hexdigest()[:10]


def messages(body: str, feedback: str | None = None) -> list[dict[str, str]]:
    """System rules (+ why the last reply was rejected, on a retry) and the masked text as the user turn."""
    system = SYSTEM_PROMPT if not feedback else f"{SYSTEM_PROMPT}\n\n{feedback}"
    return [{"role": "system", "content": system}, {"role": "user", "content": body}]


def completion_budget(body: str, cap: int) -> int:
    """First max_tokens for a body: Chinese needs fewer tokens than the English characters, so one token per
    source character plus slack is roomy; an answer cut by finish_reason=length is retried with double."""
    return max(16, min(cap, 64 + len(body)))


def estimate_tokens(body: str, max_tokens: int) -> int:
    """Tokens a request may use, for --tpm before the real count is known (~4 characters per prompt token)."""
    return (len(SYSTEM_PROMPT) + len(body)) // 4 + min(max_tokens, 32 + len(body) // 2)

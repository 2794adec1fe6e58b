"""English canonical chat data -> Simplified Chinese through any OpenAI-compatible endpoint.

Modules, in the order a string travels: plan (what to translate, dedupe) -> spans (mask protected text) ->
prompt (versioned template) -> ratelimit + client (one request) -> check (accept or reject the answer) ->
translator (retries) -> cache (sqlite, crash-safe) -> runner (concurrency, progress) -> output (DIR2).
"""

from zqvl.data.translate.runner import TranslateOptions, translate_dir
from zqvl.data.translate.translator import RetryPolicy

__all__ = ["TranslateOptions", "RetryPolicy", "translate_dir"]

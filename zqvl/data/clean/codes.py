"""What each reason code means (shown in the summary table and the report). Codes are `family.what`."""
from __future__ import annotations

MEANINGS = {
    "structure.role_name": "a role name was translated or is unknown (用户, 助手, 人类)",
    "structure.order": "turns do not alternate human/gpt starting with human (dropped, swapped or duplicated)",
    "structure.ends_on_human": "the conversation ends on a question: its answer was dropped",
    "structure.empty_turn": "an empty or whitespace-only turn",
    "structure.source_missing": "some turns of a translated record have no source",
    "structure.duplicate_id": "the id was already used by an earlier record",
    "structure.not_object": "the record is not a JSON object",
    "structure.bad_json": "JSON that cannot be a record (too deep, huge integer, duplicate key, lone surrogate)",
    "structure.missing_id": "the record has no usable id",
    "structure.bad_image_field": "'image' is neither a string nor a list of strings",
    "structure.missing_conversations": "'conversations' is missing, empty or not a list",
    "structure.bad_turn": "a turn lacks a string role or value",
    "placeholder.mangled": "a look-alike of <image> (<图像>, < image >, <IMAGE>, ＜image＞)",
    "placeholder.count": "the number of <image> tags differs from the number of images",
    "placeholder.moved": "<image> sits in a different turn than in the source",
    "preamble.lead_in": "a lead-in the source does not have (以下是翻译：, 翻译如下, 好的，以下是…)",
    "preamble.note": "a translator's note or talk about the translation (（注：…）, 原文, 保留未译)",
    "preamble.closing": "a closing offer the source does not have (希望对你有帮助, 如需调整请告诉我)",
    "refusal.apology": "an apology with a refusal (抱歉，我无法…) not in the source",
    "refusal.ai_self": "AI self-talk (作为一个AI语言模型…) not in the source",
    "refusal.declined": "the request was declined (无法协助/完成…, I can't assist)",
    "refusal.sensitive": "claims the content is sensitive or inappropriate",
    "refusal.no_opinion": "claims to have no preferences or opinions",
    "truncation.mid_sentence": "ends mid-sentence (on a comma, colon, or a bare character) where the source ends",
    "truncation.unclosed": "a quote or bracket is opened and never closed",
    "truncation.too_short": "far shorter than the source (below the configured length ratio)",
    "truncation.length_outlier": "far shorter than the source compared with this set's own length ratios",
    "repetition.loop": "a word, clause or sentence repeats back to back (decoding loop)",
    "repetition.lines": "lines (list items, table rows) duplicated beyond the source",
    "repetition.sentences": "sentences duplicated beyond the source",
    "untranslated.turn": "a whole turn left in English",
    "untranslated.residue": "English prose left inside the Chinese, outside protected spans",
    "ocr.not_verbatim": "text the source quotes from the image is not kept verbatim",
    "ocr.url_changed": "a URL or e-mail address of the source is missing or altered",
    "numbers.missing": "a number, date, time, price or measurement of the source is missing or changed",
    "numbers.unit": "a unit was swapped for another of the same kind (ml → 升)",
    "markdown.fence": "code fences differ from the source (one dropped or unbalanced)",
    "markdown.code_changed": "code or inline code differs from the source (identifiers, literals, keywords)",
    "markdown.list_collapsed": "a list was run together into one line",
    "truncation.items_dropped": "list items, table rows or the TEXT: section of the source were dropped",
    "markdown.headings": "the number of headings differs from the source",
    "markdown.table": "a table was run together into one line or lost its separator row",
    "script.traditional": "Traditional Chinese characters",
    "dedupe.answer": "the answers nearly duplicate those of an earlier kept record (different image)",
    "dedupe.image": "the image nearly duplicates that of an earlier kept record",
    "image.missing": "an image file is missing",
    "image.unsafe_path": "an image path escapes images/ (absolute or ..)",
    "image.unreadable": "an image file cannot be decoded",
}


def meaning(code: str) -> str:
    if code in MEANINGS:
        return MEANINGS[code]
    if code.startswith("error."):
        return "the filter raised an error on this record (a bug: please report it)"
    return ""

"""Every code a record check can report, as `family.what`, with its level and what it means.

The level is what `zqvl-data validate` (and `zqvl-data shard`, which skips error records) makes of a code:
an error fails validation, a warning is reported only. `zqvl-data clean` drops a record for any reason it
finds, whatever the level. Codes that only clean reports (source-aware and per-turn families) are errors.
"""

from __future__ import annotations

from typing import NamedTuple

ERROR, WARNING = "error", "warning"


class Code(NamedTuple):
    level: str
    meaning: str


def _e(meaning: str) -> Code:
    return Code(ERROR, meaning)


def _w(meaning: str) -> Code:
    return Code(WARNING, meaning)


CODES: dict[str, Code] = {
    # The record as JSON (zqvl.data.schema's SchemaError codes, prefixed with "structure.").
    "structure.not_object": _e("the record is not a JSON object"),
    "structure.bad_json": _e("JSON that cannot be a record (too deep, huge integer, duplicate key, lone surrogate)"),
    "structure.missing_id": _e("the record has no usable id"),
    "structure.bad_image_field": _e("'image' is neither a string nor a list of strings"),
    "structure.missing_conversations": _e("'conversations' is missing, empty or not a list"),
    "structure.bad_turn": _e("a turn lacks a string role or value"),
    "structure.duplicate_id": _e("the id was already used by an earlier record"),
    # The conversation's shape.
    "structure.merged_turn": _e("a turn also holds the text of the turn next to it (two turns merged)"),
    "structure.role_name": _e("a role name was translated or is unknown (用户, 助手, 人类)"),
    "structure.order": _e("turns do not alternate human/gpt starting with human (dropped, swapped or duplicated)"),
    "structure.system_not_first": _e(
        "a system turn that is not the first turn (only a leading system prompt is allowed)"
    ),
    "structure.ends_on_human": _e("the conversation ends on a question: its answer was dropped"),
    "structure.empty_turn": _e("an empty or whitespace-only turn"),
    "structure.source_missing": _e("some turns of a translated record have no source"),
    # <image> placeholders.
    "placeholder.count": _e("the number of <image> tags differs from the number of images"),
    "placeholder.in_answer": _e("<image> inside an assistant or system turn"),
    "placeholder.moved": _e("<image> sits in a different turn than in the source"),
    "placeholder.format_token": _e("a template token of the source (%d, {name}) changed or lost in translation"),
    "placeholder.mangled": _w("a look-alike of <image> (<图像>, < image >, <IMAGE>, ＜image＞, [image])"),
    # Image files.
    "image.unsafe_path": _e("an image path escapes images/ (absolute, .., or a symbolic link leading out of it)"),
    "image.not_a_file": _e("an image path names a directory, FIFO, socket or device, not a regular file"),
    "image.missing": _e("an image file is missing"),
    "image.empty": _e("an image file is 0 bytes"),
    "image.unreadable": _e("an image file cannot be decoded (corrupt, truncated or not an image)"),
    "image.bomb": _e("an image has too many pixels (decompression bomb)"),
    "image.tiny": _e("an image is too small to be useful"),
    "image.same_bytes": _w("an image file has the same bytes as another record's image"),
    # Length under the training template.
    "tokens.too_long": _e("the tokenized conversation exceeds --max-len: answers would be cut"),
    # Per-turn defects of a translation (zqvl-data clean's families).
    "preamble.lead_in": _e("a lead-in the source does not have (以下是翻译：, 翻译如下, 好的，以下是…)"),
    "preamble.note": _e("a translator's note or talk about the translation (（注：…）, 原文, 保留未译)"),
    "preamble.closing": _e("a closing offer the source does not have (希望对你有帮助, 如需调整请告诉我)"),
    "refusal.apology": _e("an apology with a refusal (抱歉，我无法…) not in the source"),
    "refusal.ai_self": _e("AI self-talk (作为一个AI语言模型…) not in the source"),
    "refusal.declined": _e("the request was declined (无法协助/完成…, I can't assist)"),
    "refusal.sensitive": _e("claims the content is sensitive or inappropriate"),
    "refusal.no_opinion": _e("claims to have no preferences or opinions"),
    "truncation.mid_sentence": _e("ends mid-sentence (on a comma, colon, or a bare character) where the source ends"),
    "truncation.unclosed": _e("a quote or bracket is opened and never closed"),
    "truncation.too_short": _e("far shorter than the source (below the configured length ratio)"),
    "truncation.items_dropped": _e("list items, table rows or the TEXT: section of the source were dropped"),
    "truncation.length_outlier": _e("far shorter than the source compared with this set's own length ratios"),
    "repetition.loop": _e("a word, clause or sentence repeats back to back (decoding loop)"),
    "repetition.lines": _e("lines (list items, table rows) duplicated beyond the source"),
    "repetition.sentences": _e("sentences duplicated beyond the source"),
    "repetition.clauses": _e("a clause repeated three times or more beyond the source"),
    "untranslated.turn": _e("a whole turn left in English"),
    "untranslated.residue": _e("English prose left inside the Chinese, outside protected spans"),
    "ocr.not_verbatim": _e("text the source quotes from the image is not kept verbatim"),
    "ocr.url_changed": _e("a URL or e-mail address of the source is missing or altered"),
    "numbers.missing": _e("a number, date, time, price or measurement of the source is missing or changed"),
    "numbers.unit": _e("a unit was swapped for another of the same kind (ml → 升)"),
    "markdown.fence": _e("code fences differ from the source (one dropped or unbalanced)"),
    "markdown.code_changed": _e("code or inline code differs from the source (identifiers, literals, keywords)"),
    "markdown.list_collapsed": _e("a list was run together into one line"),
    "markdown.headings": _e("the number of headings differs from the source"),
    "markdown.table": _e("a table was run together into one line or lost its separator row"),
    "markdown.links": _e("a markdown link of the source is lost or broken ([text]（url）, the URL dropped)"),
    "markdown.bold": _e("** bold markers lost or unbalanced"),
    "script.traditional": _e("Traditional Chinese characters"),
    "script.kana": _e("Japanese kana the source does not have"),
    "script.hangul": _e("Korean hangul the source does not have"),
    "script.pinyin": _e("pinyin (with tone marks or without) instead of characters, not quoted from the source"),
    "answered.not_a_question": _e("the source asks a question, the translation answers it (no question left)"),
    "answered.instruction_done": _e(
        "the source gives an instruction, the translation carries it out (no request left)"
    ),
    "answered.other_content": _e("few of the source's concrete words (cat, red, asleep) are in the translation"),
    "answered.echoes_answer": _e("a human turn came back as the answer that follows it, not as its question"),
    "omission.paragraphs": _e("a paragraph of the source is missing"),
    "omission.sentences": _e("fewer sentences than the source, and shorter than this set's translations run"),
    "junk.escape": _e('literal escape sequences (\\n, \\t, \\") the source does not have'),
    "junk.entity": _e("HTML entities (&quot;, &nbsp;, &amp;) the source does not have"),
    "junk.html_tag": _e("HTML tags (<br>, <p>) the source does not have"),
    "junk.json": _e('a JSON wrapper or fragment ({"translation": …}, …"}) the source does not have'),
    "junk.wrapped": _e("quotes or a code fence around the whole reply that the source does not have"),
    "junk.role_label": _e("a role label written into the text (助手：, 人类：, Assistant:)"),
    # The optional LLM judge (zqvl-data clean --judge-base-url): its verdict on a record the rules kept.
    "judge.answered_instead": _e("the judge: a turn answers or says something else instead of translating"),
    "judge.omission": _e("the judge: part of the English is missing from the Chinese"),
    "judge.addition": _e("the judge: the Chinese adds content the English does not have"),
    "judge.meaning_changed": _e("the judge: a number, name, negation or detail now means something else"),
    "judge.no_verdict": _e("the judge never gave a valid verdict (retried); the record is not assumed faithful"),
    # Set-level (clean's dedupe).
    "dedupe.answer": _e("the answers nearly duplicate those of an earlier kept record (different image)"),
    "dedupe.copied_answer": _e("the same answers as an earlier kept record whose English source says something else"),
    "dedupe.image": _e("the image nearly duplicates that of an earlier kept record"),
}
FILTER_ERROR = "error."  # clean's `error.FAMILY`: a filter raised on the record


def meaning(code: str) -> str:
    if code in CODES:
        return CODES[code].meaning
    if code.startswith(FILTER_ERROR):
        return "the filter raised an error on this record (a bug: please report it)"
    return ""


def level(code: str) -> str:
    """Unknown codes (a filter's `error.*`) count as errors: nothing unexplained passes."""
    return CODES[code].level if code in CODES else ERROR

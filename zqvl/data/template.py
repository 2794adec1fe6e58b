"""The ChatML conversation template, in one place.

Everything that renders or parses a conversation reads it from here: validate's token budget and the trainer's
label masks render a record through `segments` (so what validate counts is exactly what training sees), the
tokenizer's Jinja chat template is *generated* from the same pieces (`chat_template`), and inference takes its
assistant header and stop tokens from `GENERATION_HEADER` / `stop_token_ids`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, Record

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"
SYSTEM, USER, ASSISTANT = "system", "user", "assistant"
ROLE_NAMES = {HUMAN: USER, GPT: ASSISTANT}
DEFAULT_SYSTEM = "You are a helpful assistant."
# Generation ends at the turn's <|im_end|>; <|endoftext|> too, for LLMs that end a document instead.
STOP_TOKENS = (IM_END, END_OF_TEXT)


def header(role: str) -> str:
    """'<|im_start|>assistant\\n': what opens a turn."""
    return f"{IM_START}{role}\n"


GENERATION_HEADER = header(ASSISTANT)  # the model answers after this


def message(role: str, content: str) -> str:
    """One whole turn: header, content, <|im_end|>, newline."""
    return f"{header(role)}{content}{IM_END}\n"


@dataclass(frozen=True)
class Segment:
    text: str
    supervised: bool  # True only for assistant answer text (+ its <|im_end|>)
    turn: int  # index of the conversation turn this text belongs to; -1 for the system prompt


def segments(record: Record, system: str | None = DEFAULT_SYSTEM) -> list[Segment]:
    """Split a record's ChatML rendering into supervised / unsupervised pieces.

    <|im_start|>system\\n{system}<|im_end|>\\n
    <|im_start|>user\\n{question}<|im_end|>\\n<|im_start|>assistant\\n  (not supervised)
    {answer}<|im_end|>                                                  (supervised)
    \\n                                                                  (not supervised)
    """
    out: list[Segment] = []
    if system:
        out.append(Segment(message(SYSTEM, system), False, -1))
    for i, turn in enumerate(record.turns):
        role = ROLE_NAMES.get(turn.role, turn.role)
        if turn.role == GPT:
            out.append(Segment(header(role), False, i))
            out.append(Segment(f"{turn.value}{IM_END}", True, i))
            out.append(Segment("\n", False, i))
        else:
            out.append(Segment(message(role, turn.value), False, i))
    return out


def generation_prompt(history: list[tuple[str, str]], question: str, system: str | None = DEFAULT_SYSTEM) -> str:
    """Prompt text for inference: past (question, answer) pairs, the new question, and the assistant header."""
    text = message(SYSTEM, system) if system else ""
    for q, a in history:
        text += message(USER, q) + message(ASSISTANT, a)
    return text + message(USER, question) + GENERATION_HEADER


def stop_token_ids(tokenizer) -> list[int]:
    """Ids of STOP_TOKENS the tokenizer knows, <|im_end|> first (generate's eos_token_id)."""
    ids = []
    for token in STOP_TOKENS:
        i = tokenizer.convert_tokens_to_ids(token)
        if i is not None and (tokenizer.unk_token_id is None or i != tokenizer.unk_token_id):
            ids.append(i)
    return ids


def chat_template(system: str | None = DEFAULT_SYSTEM) -> str:
    """The Jinja chat template (Hugging Face `tokenizer.chat_template`) that renders what `segments` renders.

    `content` is a string, or a list of parts as HF processors send them: {"type": "image"} -> `<image>`,
    {"type": "text", "text": t} -> t, concatenated in order. A leading "system" message replaces `system` (an
    empty one means no system turn, like `segments(record, "")`); without one, `system` is used when non-empty.
    """
    lit = lambda s: json.dumps(s, ensure_ascii=False)  # noqa: E731  a Jinja string literal (same escapes)
    default = f"{{{{ {lit(message(SYSTEM, system))} }}}}" if system else ""
    return "".join(
        [
            "{% macro render(content) %}",
            "{% if content is string %}{{ content }}",
            "{% else %}{% for part in content %}",
            f"{{% if part['type'] == 'image' %}}{{{{ {lit(IMAGE_TAG)} }}}}",
            "{% elif part['type'] == 'text' %}{{ part['text'] }}",
            "{% else %}{{ raise_exception('unsupported content part type: ' + part['type'] | string) }}",
            "{% endif %}{% endfor %}{% endif %}",
            "{% endmacro %}",
            f"{{% if messages and messages[0]['role'] == {lit(SYSTEM)} %}}",
            "{% set system_text = render(messages[0]['content']) %}",
            f"{{% if system_text %}}{{{{ {lit(header(SYSTEM))} + system_text + {lit(IM_END + chr(10))} }}}}{{% endif %}}",
            "{% set turns = messages[1:] %}",
            f"{{% else %}}{default}{{% set turns = messages %}}{{% endif %}}",
            "{% for m in turns %}",
            f"{{{{ {lit(IM_START)} + m['role'] + {lit(chr(10))} + render(m['content']) + {lit(IM_END + chr(10))} }}}}",
            "{% endfor %}",
            f"{{% if add_generation_prompt %}}{{{{ {lit(GENERATION_HEADER)} }}}}{{% endif %}}",
        ]
    )


def split_image_tags(text: str) -> list[str]:
    """'a<image>b' -> ['a', 'b']: the pieces between image tags (len = tags + 1)."""
    return text.split(IMAGE_TAG)

"""The ChatML conversation template, in one place: validate's token budget and the trainer's label masks
both render a record through `segments`, so what validate counts is exactly what training sees.
"""
from __future__ import annotations

from dataclasses import dataclass

from zqvl.data.schema import GPT, HUMAN, IMAGE_TAG, Record

DEFAULT_SYSTEM = "You are a helpful assistant."
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
ROLE_NAMES = {HUMAN: "user", GPT: "assistant"}


@dataclass(frozen=True)
class Segment:
    text: str
    supervised: bool      # True only for assistant answer text (+ its <|im_end|>)
    turn: int             # index of the conversation turn this text belongs to; -1 for the system prompt


def segments(record: Record, system: str | None = DEFAULT_SYSTEM) -> list[Segment]:
    """Split a record's ChatML rendering into supervised / unsupervised pieces.

    <|im_start|>system\\n{system}<|im_end|>\\n
    <|im_start|>user\\n{question}<|im_end|>\\n<|im_start|>assistant\\n  (not supervised)
    {answer}<|im_end|>                                                  (supervised)
    \\n                                                                  (not supervised)
    """
    out: list[Segment] = []
    if system:
        out.append(Segment(f"{IM_START}system\n{system}{IM_END}\n", False, -1))
    for i, turn in enumerate(record.turns):
        role = ROLE_NAMES.get(turn.role, turn.role)
        if turn.role == GPT:
            out.append(Segment(f"{IM_START}{role}\n", False, i))
            out.append(Segment(f"{turn.value}{IM_END}", True, i))
            out.append(Segment("\n", False, i))
        else:
            out.append(Segment(f"{IM_START}{role}\n{turn.value}{IM_END}\n", False, i))
    return out


def generation_prompt(history: list[tuple[str, str]], question: str, system: str | None = DEFAULT_SYSTEM) -> str:
    """Prompt text for inference: past (question, answer) pairs, the new question, and the assistant header."""
    text = f"{IM_START}system\n{system}{IM_END}\n" if system else ""
    for q, a in history:
        text += f"{IM_START}user\n{q}{IM_END}\n{IM_START}assistant\n{a}{IM_END}\n"
    return text + f"{IM_START}user\n{question}{IM_END}\n{IM_START}assistant\n"


def split_image_tags(text: str) -> list[str]:
    """'a<image>b' -> ['a', 'b']: the pieces between image tags (len = tags + 1)."""
    return text.split(IMAGE_TAG)

"""English records for the translate tests and benchmark: Q&A with protected spans, CC3M-like captions."""

from __future__ import annotations

import json

QUESTIONS = [
    "What does this image show?",
    "Describe the picture in detail.",
    "What is the man doing?",
    "How many people can you see?",
    "What color is the car?",
]


def sample_records(n: int, words: tuple[str, ...] = ("dog", "cat", "horse", "bicycle")) -> list[dict]:
    """n image-chat records: 5 questions repeated (what --dedupe is for) and unique answers holding protected
    spans (a quoted sign, a URL, a number with a unit). `words` cycle through the answers: fault triggers."""
    records = []
    for i in range(n):
        records.append(
            {
                "id": f"rec{i:05d}",
                "image": f"img{i % 7}.png",
                "conversations": [
                    {"from": "human", "value": f"<image>\n{QUESTIONS[i % len(QUESTIONS)]}"},
                    {
                        "from": "gpt",
                        "value": f"Scene {i}: a {words[i % len(words)]} stands near a sign that reads "
                        f'"EXIT {i}" and weighs 3.5 kg, see https://example.com/p/{i}.',
                    },
                ],
            }
        )
    return records


SUBJECTS = ["a dog", "two cats", "a man", "a young woman", "a red car", "people", "a street sign", "an old boat"]
ACTIONS = ["stands", "plays", "waits", "walks", "sits", "rests", "is parked", "looks out"]
PLACES = ["on the beach", "in the street", "near a river", "at the station", "in a garden", "under a bridge"]
EXTRAS = ["", " at night", " in the rain", " with a blue umbrella", " during a festival", " in winter"]


def caption_records(n: int) -> list[dict]:
    """n CC3M-like records: one fixed question and a short lowercase caption fragment (~10 tokens), distinct
    for the first 8*8*6*6 records."""
    records = []
    for i in range(n):
        caption = f"{SUBJECTS[i % 8]} {ACTIONS[i // 8 % 8]} {PLACES[i // 64 % 6]}{EXTRAS[i // 384 % 6]}" + (
            f" {i // 2304}" if i >= 2304 else ""
        )
        records.append(
            {
                "id": f"cap{i:06d}",
                "image": f"img{i % 7}.png",
                "conversations": [
                    {"from": "human", "value": "<image>\nGive a brief caption of the image."},
                    {"from": "gpt", "value": caption},
                ],
            }
        )
    return records


def write_chat_dir(path, records: list[dict]):
    """DIR/chat.json + DIR/images/ with a small file for every image the records name."""
    from pathlib import Path

    path = Path(path)
    (path / "images").mkdir(parents=True, exist_ok=True)
    for r in records:
        images = r.get("image") or []
        for name in [images] if isinstance(images, str) else images:
            (path / "images" / name).write_bytes(f"image bytes of {name}".encode())
    (path / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path

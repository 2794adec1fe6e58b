"""Build a translated record for the clean tests from (Chinese, English) pairs."""

from __future__ import annotations

IMG = "<image>\n"


def rec(rid: str, *pairs, image: str | list | None = "auto", roles=None) -> dict:
    """pairs: (zh, en) per turn, alternating human/gpt; the first human turn gets <image> when there is one."""
    turns = []
    for i, (zh, en) in enumerate(pairs):
        role = roles[i] if roles else ("human" if i % 2 == 0 else "gpt")
        if i == 0 and image is not None and "<" not in zh + en:
            zh, en = IMG + zh, IMG + en
        turns.append({"from": role, "value": zh, "source": en})
    out = {"id": rid}
    if image == "auto":
        out["image"] = f"{rid}.jpg"
    elif image is not None:
        out["image"] = image
    out["conversations"] = turns
    return out

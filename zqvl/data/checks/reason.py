"""Reason: a check's finding, a `str` (its code, e.g. "placeholder.count") that also carries a one-line detail.

Being a `str`, a list of reasons is a plain list of codes for whoever only counts them (training drops,
rejected.jsonl), and still explains itself to whoever prints it (validate's report, `clean --explain`).
"""

from __future__ import annotations


class Reason(str):
    """A reason code that also carries why: `Reason("placeholder.mangled", "turn 0: '<图像>'")`."""

    detail: str

    def __new__(cls, code: str, detail: str = "") -> Reason:
        obj = super().__new__(cls, code)
        obj.detail = detail
        return obj

    @property
    def family(self) -> str:
        return self.split(".", 1)[0]

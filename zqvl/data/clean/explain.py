"""`--explain ID`: why one record was kept or dropped, check by check (including disabled ones)."""

from __future__ import annotations

import math

from zqvl.data.clean.config import filter_params
from zqvl.data.clean.registry import REGISTRY, bind
from zqvl.data.clean.runner import Scan
from zqvl.errors import UsageError


def explain(scan: Scan, record_id: str) -> tuple[bool, list[tuple[str, str, str]]]:
    """(kept?, rows of (check, verdict, detail)) for the first record with this id."""
    decision = next((d for d in scan.decisions if d.id == record_id), None)
    if decision is None:
        raise UsageError(f"no record with id {record_id!r} in {scan.path}")
    rows: list[tuple[str, str, str]] = []
    record = scan.explained
    config = scan.config
    if record is None:  # unparseable: only the schema reason exists
        rows += [(r.family, "FAIL", f"{r}: {r.detail}") for r in decision.reasons]
        return False, rows
    order = list(config["filters"]) + [n for n in REGISTRY if n not in config["filters"]]
    for name in order:
        spec = REGISTRY[name]
        enabled = config["filters"].get(name, {}).get("enabled", True)
        params = filter_params(config, name)
        if spec.needs_source and not record.has_source:
            rows.append((name, "skip", "needs `source`; this record has none"))
            continue
        reasons = bind(spec, params)(record)
        verdict = "FAIL" if reasons else "pass"
        if not enabled:
            verdict = "(disabled) " + ("would fail" if reasons else "pass")
        detail = "; ".join(f"{r}: {r.detail}" for r in reasons) or spec.doc
        rows.append((name, verdict, detail))
    for r in decision.reasons:
        if r.family in ("image", "error") or r in ("structure.duplicate_id",):
            rows.append((r.family, "FAIL", f"{r}: {r.detail}"))
    st = scan.stats[decision.index]
    cut = scan.length_cut
    if st is not None and st.turn_log_ratios:
        ratios = ", ".join(f"turn {i}: {math.exp(lr):.2f}" for i, lr in st.turn_log_ratios)
        if cut:
            bad = any(lr < cut["log_cut"] for _, lr in st.turn_log_ratios)
            rows.append(
                (
                    "length_outlier",
                    "FAIL" if bad else "pass",
                    f"{ratios}; set cut {math.exp(cut['log_cut']):.2f} (median {math.exp(cut['median']):.2f})",
                )
            )
        else:
            rows.append(("length_outlier", "skip", f"{ratios}; too few turns in the set for statistics"))
    elif st is not None:
        rows.append(("length_outlier", "skip", "no translated turn long enough to judge its length"))
    lost = [r for r in decision.reasons if r == "omission.sentences"]
    if st is not None and st.sentence_drops:
        rows.append(
            ("sentences lost", "FAIL" if lost else "pass", lost[0].detail if lost else "length near the median")
        )
    # Records that failed a per-record check were never indexed for near-duplicates.
    set_level = ("truncation.length_outlier", "omission.sentences")
    indexed = not any(r.family != "dedupe" and r not in set_level for r in decision.reasons)
    for code, label, section in (
        ("dedupe.answer", "dedupe answers", "answers"),
        ("dedupe.image", "dedupe images", "images"),
    ):
        hit = [r for r in decision.reasons if r == code]
        if not config["dedupe"][section]["enabled"]:
            rows.append((label, "skip", "disabled in the config"))
        elif hit:
            rows.append((label, "FAIL", hit[0].detail))
        elif not indexed:
            rows.append((label, "skip", "not compared (rejected by an earlier check)"))
        else:
            rows.append((label, "pass", "no kept earlier record is a near-duplicate"))
    return decision.kept, rows

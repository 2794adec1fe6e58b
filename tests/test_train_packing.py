"""--packing: several samples per row, attention inside each sample only. A packed batch's per-sample losses equal
the same samples run alone, its batch loss equals the padded batch's, and the packed loader resumes exactly."""

from __future__ import annotations

import random
from functools import partial

import pytest
import torch
from helpers.train_helpers import make_shards, sample_dir, tiny_model

from zqvl.data.io import iter_records
from zqvl.data.shards.reader import ShardStream, SkipSample
from zqvl.errors import UsageError
from zqvl.infer.chat import open_image
from zqvl.model.attention import PACKED_SDPA
from zqvl.model.build import load_model
from zqvl.train.collate import IGNORE, SampleBuilder, collate
from zqvl.train.config import resolve
from zqvl.train.loader import TrainLoader, resolve_shards
from zqvl.train.packing import collate_packed, pack_rows, pack_window

SYSTEM = "You are a helpful assistant."


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("packing")
    model, processor = load_model(tiny_model(base / "model"))
    data = sample_dir(base / "data", n=12, turns=3)
    builder = SampleBuilder(processor, max_len=512, system=SYSTEM)
    samples = []
    for record in iter_records(data / "chat.json"):
        samples += builder(record, [open_image(data / "images" / p) for p in record.images])
    return model.eval(), processor, samples, make_shards(data, base / "shards", max_count=3)


class Sized:
    def __init__(self, sid: str, n: int):
        self.id, self.n = sid, n

    def __len__(self) -> int:
        return self.n


def test_rows_are_filled_first_fit_decreasing_and_hold_every_sample_once():
    lengths = [700, 300, 300, 250, 1000, 24, 600, 400, 1]
    items = [Sized(f"x{i}", n) for i, n in enumerate(lengths)]
    rows = pack_rows(items, 1024)
    assert [[s.id for s in row] for row in rows] == [["x4", "x5"], ["x0", "x1", "x8"], ["x6", "x7"], ["x2", "x3"]]
    assert all(sum(len(s) for s in row) <= 1024 for row in rows)
    assert sorted(s.id for row in rows for s in row) == sorted(s.id for s in items)
    with pytest.raises(ValueError, match="sample x4 has 1000 tokens, more than the row length 999"):
        pack_rows(items, 999)
    window = pack_window(items, 1024, 3, random.Random(5))
    assert [len(b) for b in window] == [3, 1]
    again = pack_window(items, 1024, 3, random.Random(5))
    assert [[[s.id for s in r] for r in b] for b in window] == [[[s.id for s in r] for r in b] for b in again]


def test_packed_inputs_restart_positions_and_never_supervise_across_a_seam(setup):
    _, processor, samples, _ = setup
    rows = pack_rows(samples, 512)
    assert any(len(row) > 2 for row in rows)
    batch = collate_packed(rows, processor.tokenizer.pad_token_id)
    assert batch["attention_mask"] is None
    assert batch["tokens"] == sum(len(s) for s in samples)
    assert batch["attended"] == sum(len(s) ** 2 for s in samples)
    assert batch["images"] == len(samples) and batch["pixel_values"].shape[0] == len(samples)
    for r, row in enumerate(rows):
        at = 0
        for s in row:
            n = len(s)
            assert batch["input_ids"][r, at : at + n].tolist() == s.input_ids.tolist()
            assert batch["position_ids"][r, at : at + n].tolist() == list(range(n))
            want = s.labels.clone()
            want[0] = IGNORE
            assert batch["labels"][r, at : at + n].tolist() == want.tolist()
            at += n
        assert set(batch["labels"][r, at:].tolist()) <= {IGNORE}  # the padding tail
        assert batch["position_ids"][r, at:].tolist() == list(range(batch["input_ids"].shape[1] - at))
    assert batch["supervised"] == sum(int((s.labels[1:] != IGNORE).sum()) for s in samples)


def model_inputs(batch: dict, labels: bool = True) -> dict:
    keys = ("input_ids", "attention_mask", "position_ids", "pixel_values") + (("labels",) if labels else ())
    return {k: batch[k] for k in keys if batch.get(k) is not None}


def span_losses(model, batch: dict, spans: list[tuple[int, int, int]]) -> list[float]:
    """Mean next-token loss of each (row, start, length) span, from the model's full logits."""
    with torch.no_grad():
        logits = model(**model_inputs(batch, labels=False), use_cache=False).logits.float()
    out = []
    for row, start, n in spans:
        target = batch["labels"][row, start + 1 : start + n]
        out.append(torch.nn.functional.cross_entropy(logits[row, start : start + n - 1], target).item())
    return out


@pytest.mark.parametrize("attention", ["sdpa", "eager", PACKED_SDPA])
def test_per_sample_losses_equal_the_samples_run_alone(setup, attention):
    model, processor, samples, _ = setup
    model.language_model.set_attn_implementation(attention)
    try:
        pad = processor.tokenizer.pad_token_id
        rows = pack_rows(samples, 512)
        spans, alone = [], []
        for r, row in enumerate(rows):
            at = 0
            for s in row:
                spans.append((r, at, len(s)))
                alone += span_losses(model, collate([s], pad), [(0, 0, len(s))])
                at += len(s)
        packed = collate_packed(rows, pad)
        got = span_losses(model, packed, spans)
        assert len(got) == len(samples) and len(rows) < len(samples)
        assert max(abs(a - b) for a, b in zip(got, alone)) < 1e-5
        # flat (flash-attention's layout): one row, no padding, the same per-sample losses
        flat = collate_packed(rows, pad, flat=True)
        assert flat["input_ids"].shape == (1, sum(len(s) for s in samples)) and flat["padded"] == flat["tokens"]
        at, flat_spans = 0, []
        for row in rows:
            for s in row:
                flat_spans.append((0, at, len(s)))
                at += len(s)
        assert max(abs(a - b) for a, b in zip(span_losses(model, flat, flat_spans), alone)) < 1e-5
        # the training loss (supervised-only logits) of the packed batch equals the padded batch's
        with torch.no_grad():
            packed_loss = model(**model_inputs(packed)).loss.item()
            padded_loss = model(**model_inputs(collate(samples, pad))).loss.item()
        assert abs(packed_loss - padded_loss) < 1e-5
    finally:
        model.language_model.set_attn_implementation("sdpa")


def packed_loader(shards, processor, workers: int) -> TrainLoader:
    builder = SampleBuilder(processor, max_len=512, system=SYSTEM, skip=SkipSample)
    stream = ShardStream(
        resolve_shards([str(shards)]), seed=3, shuffle_buffer=5, transform=builder, rank=0, world_size=1
    )
    return TrainLoader(
        stream,
        batch_size=2,
        group_batches=3,
        num_workers=workers,
        collate_fn=partial(collate_packed, pad_id=processor.tokenizer.pad_token_id),
        pack_len=512,
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_a_resumed_packed_loader_gives_the_same_batches(setup, workers):
    _, processor, _, shards = setup
    reference = packed_loader(shards, processor, workers)
    states, seen = [], []
    for _ in range(12):
        states.append(reference.state_dict())
        batch = next(reference)
        seen.append((tuple(batch["ids"]), batch["input_ids"].tolist()))
    assert reference.epoch >= 1 and reference.samples == sum(len(ids) for ids, _ in seen)
    first_epoch = [i for ids, _ in seen for i in ids][:12]
    assert sorted(first_epoch) == [f"s{i:03d}" for i in range(12)]  # every record once per epoch
    for k in (1, 3, 4, 7):
        resumed = packed_loader(shards, processor, workers)
        resumed.load_state_dict(states[k])
        got = []
        for _ in range(12 - k):
            batch = next(resumed)
            got.append((tuple(batch["ids"]), batch["input_ids"].tolist()))
        assert got == seen[k:], f"resume at micro-batch {k}"
        resumed.close()
    unpacked_state = dict(states[3], packing=0)
    with pytest.raises(UsageError, match="packing into rows of 0 tokens"):
        packed_loader(shards, processor, workers).load_state_dict(unpacked_state)


def test_packing_needs_max_steps():
    with pytest.raises(UsageError, match="--packing needs --max-steps"):
        resolve(2, None, {"model": "m", "shards": ["s"], "out": "o", "packing": True, "max_steps": 0})

"""The trainer's loader on real shards and the real SampleBuilder: length-grouped micro-batches resume at the
exact next micro-batch, across epochs."""

from __future__ import annotations

from functools import partial

import pytest
from helpers.train_helpers import make_shards, sample_dir, tiny_model

from zqvl.data.shards.reader import ShardStream, SkipSample
from zqvl.model.build import load_model
from zqvl.train.collate import SampleBuilder, collate
from zqvl.train.loader import TrainLoader, count_samples, resolve_shards


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("batches")
    _, processor = load_model(tiny_model(base / "model"))
    data = sample_dir(base / "data", n=11, turns=2)
    return processor, make_shards(data, base / "shards", max_count=3)


def micro_batches(setup, workers):
    processor, shards = setup
    builder = SampleBuilder(processor, max_len=512, system="You are a helpful assistant.", skip=SkipSample)
    stream = ShardStream(
        resolve_shards([str(shards)]), seed=7, shuffle_buffer=5, transform=builder, rank=0, world_size=1
    )
    return TrainLoader(
        stream,
        batch_size=2,
        group_batches=2,
        num_workers=workers,
        collate_fn=partial(collate, pad_id=processor.tokenizer.pad_token_id),
    )


def take(batches, n):
    return [tuple(next(batches)["ids"]) for _ in range(n)]


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_at_every_position_gives_the_same_batches(setup, workers):
    reference = micro_batches(setup, workers)
    states, seen = [], []
    for _ in range(16):  # 11 records / 2 per batch: crosses two epoch boundaries
        states.append(reference.state_dict())
        seen.append(tuple(next(reference)["ids"]))
    epoch_one = sorted(i for b in seen[:6] for i in b)
    assert epoch_one == [f"s{i:03d}" for i in range(11)]  # every record once per epoch
    assert seen[6:12] != seen[:6]  # the next epoch is reshuffled
    assert reference.stats() == {"epoch": 2, "samples": 11 + 11 + 8, "dropped": {}}  # batches of 2,2,2,2,2,1 per epoch
    for k in (1, 2, 3, 5, 6, 7, 11, 13):
        resumed = micro_batches(setup, workers)
        resumed.load_state_dict(states[k])
        assert take(resumed, 16 - k) == seen[k:], f"resume at micro-batch {k}"
        resumed.close()


def test_micro_batches_are_padded_model_inputs(setup):
    processor, _ = setup
    batch = next(micro_batches(setup, 0))
    lengths = batch["attention_mask"].sum(1).tolist()
    assert batch["input_ids"].shape == (2, max(lengths)) and batch["tokens"] == sum(lengths)
    assert (batch["input_ids"][batch["attention_mask"] == 0] == processor.tokenizer.pad_token_id).all()
    assert batch["split"] == 0 and batch["pixel_values"].shape[0] == 2


def test_count_samples_reads_manifests(setup):
    _, shards = setup
    assert count_samples([str(shards)]) == 11

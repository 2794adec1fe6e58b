"""The training loader: length-grouped windows from DataLoader workers, epoch after epoch; a resumed loader yields
exactly the batches an uninterrupted one does; mismatched checkpoints and order-breaking options are refused."""

from __future__ import annotations

import io
import json
import os
import random
from collections import Counter
from dataclasses import dataclass

import pytest
from PIL import Image

from zqvl.data.shards.reader import ShardStream, SkipSample
from zqvl.errors import UsageError
from zqvl.train.collate import group_by_length
from zqvl.train.loader import TrainLoader


@dataclass
class Item:
    """A stand-in for the trainer's Sample: an id, a length to group by, where it was built."""

    id: str
    length: int
    sizes: list
    pid: int

    def __len__(self) -> int:
        return self.length


def as_items(record, images) -> list[Item]:
    """One item per record, two for multi-image ones (like a record split at turn boundaries)."""
    if record.id.endswith("3"):
        raise SkipSample("unlucky", f"{record.id} ends in 3")
    length = sum(len(t.value) for t in record.turns)
    return [
        Item(f"{record.id}#{k}", length + k, [im.size for im in images], os.getpid())
        for k in range(2 if len(images) == 2 else 1)
    ]


def drop_some(record) -> list[str]:
    return ["odd_digit"] if record.id.endswith("7") else []


def ids_of(batch: list[Item]) -> list[str]:
    return [item.id for item in batch]


def loader(
    shards, workers: int, *, filters=(drop_some,), world_size: int = 1, batch_size: int = 3, **options
) -> TrainLoader:
    stream = ShardStream(
        shards[0], seed=7, shuffle_buffer=6, transform=as_items, filters=list(filters), rank=0, world_size=world_size
    )
    return TrainLoader(
        stream, batch_size=batch_size, group_batches=2, num_workers=workers, collate_fn=ids_of, **options
    )


def expected_items(expect: dict) -> list[str]:
    """Every item of one epoch, from the source records and the two rules above."""
    ids = []
    for rid, value in expect["good"].items():
        if rid.endswith(("3", "7")):
            continue
        images = value.get("image", [])
        ids += [f"{rid}#{k}" for k in range(2 if isinstance(images, list) and len(images) == 2 else 1)]
    return sorted(ids)


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_at_every_position_gives_the_same_batches(shards, workers):
    reference = loader(shards, workers)
    states, seen, epochs = [], [], []
    while not epochs or epochs[-1] < 2:  # two whole epochs and the first batch of the third
        states.append(json.loads(json.dumps(reference.state_dict())))  # must survive a checkpoint file
        seen.append(next(reference))
        epochs.append(reference.epoch)
    one, two = epochs.index(1), epochs.index(2)
    epoch_one = sorted(i for b in seen[:one] for i in b)
    assert epoch_one == expected_items(shards[1])  # every item once per epoch
    assert sorted(i for b in seen[one:two] for i in b) == epoch_one
    assert seen[one:two] != seen[:one]  # the next epoch is reshuffled
    for k in range(len(seen)):
        resumed = loader(shards, workers)
        resumed.load_state_dict(states[k])
        assert resumed.state_dict() == states[k], f"restored state at batch {k}"
        assert [next(resumed) for _ in range(len(seen) - k)] == seen[k:], f"resumed at batch {k}"
        assert resumed.stats() == reference.stats()


def test_windows_are_grouped_by_length_with_the_seeded_shuffle(shards):
    got = loader(shards, 0)
    batches = [next(got) for _ in range(6)]  # windows of 6 records: at least 2 batches each
    records = (s for _, s in got.stream.iter_worker(0, 0, 1) if s is not None)
    want = []
    for window_index in range(3):
        window = [item for _ in range(6) for item in next(records)]
        rng = random.Random(f"7/0/{window_index}/0")
        grouped = group_by_length(window, 3, rng)
        assert all(len(a) >= len(b) for batch in grouped for a, b in zip(batch, batch[1:]))
        want += [ids_of(b) for b in grouped]
    assert batches == want[:6]


def test_drops_are_counted_once_each_epoch_even_after_the_last_window(shards):
    def keep_first(record) -> list[str]:
        return [] if record.id == "rec_0000" else ["not_first"]

    got = loader(shards, 2, filters=[keep_first])  # one worker yields nothing but drops
    assert next(got) == ["rec_0000#0"]
    assert next(got) == ["rec_0000#0"]  # epoch 1: the same single record
    stats = got.stats()
    assert (stats["epoch"], stats["samples"]) == (1, 2)
    assert got.dropped_before == Counter(not_first=69)  # epoch 0, the other worker's drops included


def test_a_rank_with_no_usable_sample_is_a_usage_error(shards):
    got = loader(shards, 0, filters=[lambda record: ["nope"]])
    with pytest.raises(UsageError, match=r"^rank 0: the shards yield no usable sample \(dropped: \{'nope': 140\}\)$"):
        next(got)


@pytest.fixture(scope="module")
def saved_state(shards) -> dict:
    first = loader(shards, 2)
    next(first)
    return first.state_dict()


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"version": 1},
            "checkpoint loader state is version 1, this zqvl reads version 2: exact resume needs a "
            "checkpoint written by the same loader version",
        ),
        (
            {"rank": 1},
            "checkpoint loader state belongs to rank 1, this is rank 0: each rank resumes from its own state",
        ),
    ],
)
def test_a_foreign_state_is_refused(shards, saved_state, change, message):
    with pytest.raises(UsageError) as e:
        loader(shards, 2).load_state_dict({**saved_state, **change})
    assert str(e.value) == message


@pytest.mark.parametrize(
    "run, message",
    [
        (
            {"workers": 4},
            "checkpoint was written with 2 loader workers, this run has 4: exact resume needs the same --num-workers",
        ),
        (
            {"world_size": 2},
            "checkpoint was written with world size 1, this run has 2: exact resume needs the same number of processes",
        ),
        (
            {"batch_size": 4},
            "checkpoint was written with batch size 3, this run has 4: exact resume needs the same --batch-size",
        ),
    ],
)
def test_a_different_run_is_refused(shards, saved_state, run, message):
    workers = run.pop("workers", 2)
    with pytest.raises(UsageError) as e:
        loader(shards, workers, **run).load_state_dict(saved_state)
    assert str(e.value) == message


def test_zero_and_one_worker_read_the_same_slot(shards):
    one = loader(shards, 1)
    next(one)
    state, rest = one.state_dict(), [next(one) for _ in range(3)]
    zero = loader(shards, 0)
    zero.load_state_dict(state)
    assert [next(zero) for _ in range(3)] == rest


@pytest.mark.parametrize(
    "option",
    [{"in_order": False}, {"shuffle": True}, {"sampler": range(3)}, {"drop_last": True}, {"worker_init_fn": print}],
)
def test_dataloader_options_that_break_the_order_are_refused(shards, option):
    with pytest.raises(UsageError) as e:
        loader(shards, 2, **option)
    assert str(e.value) == (
        f"DataLoader option(s) {next(iter(option))} not allowed: exact resume needs the "
        "loader's own order and batching (allowed: multiprocessing_context, persistent_workers, "
        "pin_memory, prefetch_factor, timeout)"
    )


def test_allowed_dataloader_options_keep_the_batches(shards):
    plain = loader(shards, 2)
    tuned = loader(shards, 2, prefetch_factor=4, timeout=120, pin_memory=False)
    assert [next(tuned) for _ in range(8)] == [next(plain) for _ in range(8)]


def test_transform_and_decode_run_in_the_workers(shards):
    _, expect = shards
    got = loader(shards, 2, filters=[])
    got.collate_fn = list  # the items themselves
    items = []
    while got.epoch == 0:
        items += next(got)
    pids = {item.pid for item in items}
    assert pids and os.getpid() not in pids
    sizes = {item.id.split("#")[0]: item.sizes for item in items}
    for rid, record in expect["good"].items():
        if rid.endswith("3"):
            continue
        rels = record.get("image", [])
        rels = [rels] if isinstance(rels, str) else rels
        assert sizes[rid] == [Image.open(io.BytesIO(expect["files"][r])).size for r in rels]

"""The streaming reader: split across nodes x workers, deterministic shuffle, damage skipped and counted,
transform and filters. (Batching, workers and resume: test_train_loader.py.)"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from helpers.shardkit import noise_image
from PIL import Image

from zqvl.data.shards.reader import ShardStream, SkipSample, TokenBudgetFilter, expand_shards
from zqvl.data.shards.tar import Member, ShardFile


def read(stream: ShardStream, workers: int = 2) -> tuple[list[str], Counter]:
    """The ids of this rank's samples, slot after slot, and the drops counted on the way."""
    dropped: Counter = Counter()
    ids = [
        sample[0].id
        for worker in range(workers)
        for _, sample in stream.iter_worker(stream.epoch, worker, workers, stats=dropped)
        if sample is not None
    ]
    return ids, dropped


def test_two_nodes_two_workers_see_each_sample_once_per_epoch(shards):
    out, expect = shards
    orders = []
    for epoch in range(2):
        seen: list[str] = []
        for rank in range(2):
            stream = ShardStream(out, seed=3, shuffle_buffer=8, epoch=epoch, rank=rank, world_size=2)
            per_rank, _ = read(stream)
            assert per_rank  # every rank gets work
            seen += per_rank
        assert sorted(seen) == sorted(expect["good"])  # no duplicates, no losses
        orders.append(seen)
    assert orders[0] != orders[1]  # reshuffled each epoch


def test_same_seed_same_order_other_seed_other_order(shards):
    out, _ = shards

    def order(seed):
        return read(ShardStream(out, seed=seed, shuffle_buffer=10, rank=0, world_size=1))[0]

    assert order(1) == order(1) != order(2)


def test_filters_and_transform_drops_are_counted_by_reason(shards):
    out, expect = shards

    def transform(record, images):
        if record.id.endswith("3"):
            raise SkipSample("unlucky", f"{record.id} ends in 3")
        return record, images

    stream = ShardStream(
        out, transform=transform, filters=[lambda r: ["odd_digit"] if r.id.endswith("7") else []], rank=0, world_size=1
    )
    kept, dropped = read(stream)
    assert sorted(kept) == sorted(i for i in expect["good"] if not i.endswith(("3", "7")))
    assert dropped == {"odd_digit": 7, "unlucky": 7}


def test_plain_iteration_and_images(shards):
    out, expect = shards
    got = {record.id: (record, images) for record, images in ShardStream(out, shuffle_buffer=0, rank=0, world_size=1)}
    assert set(got) == set(expect["good"])
    record, images = next(v for v in got.values() if len(v[1]) == 2)  # a multi-image record, in order
    assert [im.mode for im in images] == ["RGB", "RGB"]
    originals = [Image.open(io.BytesIO(expect["files"][rel])).convert("RGB") for rel in record.images]
    assert [im.tobytes() for im in images] == [im.tobytes() for im in originals]


def write_tar(path: Path, samples: list[tuple[str, dict[str, bytes]]]) -> None:
    shard = ShardFile(path)
    for key, members in samples:
        shard.add(key, [Member(s, len(b), data=b) for s, b in members.items()])
    shard.finish()
    os.close(shard.fd)
    os.replace(shard.tmp, path)


def test_damage_is_skipped_and_counted(tmp_path):
    import random

    rng = random.Random(0)

    def good(i):
        rec = {
            "id": f"g{i}",
            "image": f"{i}.jpg",
            "conversations": [{"from": "human", "value": "<image>\n这是什么？"}, {"from": "gpt", "value": "一只猫。"}],
        }
        return f"{i:09d}_g{i}", {"jpg": noise_image(rng, "JPEG", (16, 12)), "json": json.dumps(rec).encode()}

    a_samples = [
        good(0),
        good(1),
        ("000000002_badjson", {"json": b"{not json"}),
        ("000000003_badimg", {"jpg": b"\xff\xd8garbage", "json": good(3)[1]["json"]}),
        good(4),
        good(5),
        good(6),
    ]
    write_tar(tmp_path / "a.tar", a_samples)
    raw = bytearray((tmp_path / "a.tar").read_bytes())
    offset = 0  # find good(5)'s jpg header and damage it
    for _ in range(2 * 5 - 1):  # samples 0..4 take 9 members (badjson has one)
        size = int(raw[offset + 124 : offset + 136].split(b"\0")[0], 8)
        offset += 512 + size + (-size % 512)
    assert raw[offset : offset + 11] == b"000000005_g"
    raw[offset + 10] ^= 0x40
    (tmp_path / "a.tar").write_bytes(bytes(raw))
    g7 = good(7)
    write_tar(tmp_path / "b.tar", [g7, good(8)])
    g8_at = sum(512 + len(b) + (-len(b) % 512) for b in g7[1].values())
    (tmp_path / "b.tar").write_bytes((tmp_path / "b.tar").read_bytes()[: g8_at + 600])  # cut inside g8
    write_tar(tmp_path / "c.tar", [good(9)])
    stream = ShardStream(str(tmp_path / "{a,b,c}.tar"), rank=0, world_size=1, shuffle_buffer=3)
    (tmp_path / "c.tar").unlink()  # vanished after listing
    got, dropped = read(stream)
    assert sorted(got) == ["g0", "g1", "g4", "g6", "g7"]
    assert dropped == {
        "bad_json": 1,
        "bad_image": 1,
        "corrupt_tar_header": 1,
        "image.missing": 1,
        "truncated_member": 1,
        "unreadable_shard": 1,
    }


def test_expand_shards_patterns(shards, tmp_path):
    out, _ = shards
    listed = expand_shards(out)
    assert len(listed) == 18 and listed == sorted(listed)
    assert expand_shards(str(out / "demo-{000000..000017}.tar")) == listed
    assert expand_shards(str(out / "*.tar")) == listed
    with pytest.raises(ValueError, match="no shard file"):
        expand_shards(str(out / "demo-{000000..000020}.tar"))
    with pytest.raises(ValueError, match="twice"):
        expand_shards([listed[0], listed[0]])
    with pytest.raises(ValueError, match="no 'val' split"):
        expand_shards(out, split="val")


def test_rank_and_world_from_env(shards, monkeypatch):
    out, _ = shards
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    stream = ShardStream(out)
    assert (stream.rank, stream.world_size) == (1, 3)
    slots = [stream.shards_for(0, w, 2) for w in range(2)]
    others = [ShardStream(out, rank=r, world_size=3).shards_for(0, w, 2) for r in (0, 2) for w in range(2)]
    every = [u for s in slots + others for u in s]
    assert sorted(every) == sorted(stream.urls) and Counter(every).most_common(1)[0][1] == 1


def test_token_budget_filter(shards, qwen_tokenizer):
    from zqvl.data.template import segments

    out, expect = shards

    def tokens(record):  # independent count: whole ChatML text, each <image> as 16 tokens
        text = "".join(seg.text for seg in segments(record))
        pieces = text.split("<image>")
        return sum(len(qwen_tokenizer(p, add_special_tokens=False)["input_ids"]) for p in pieces) + 16 * (
            len(pieces) - 1
        )

    from zqvl.data.schema import parse_record

    counts = sorted(tokens(parse_record(r)) for r in expect["good"].values())
    limit = counts[len(counts) // 2]
    stream = ShardStream(out, rank=0, world_size=1, filters=[TokenBudgetFilter(qwen_tokenizer, limit, 16)])
    kept, dropped = read(stream)
    assert sorted(kept) == sorted(rid for rid, r in expect["good"].items() if tokens(parse_record(r)) <= limit)
    assert dropped == {"tokens.too_long": len(expect["good"]) - len(kept)} and 0 < len(kept) < len(counts)

"""Data mixing: `--shards A:3 B:1` gives A three micro-batches in four at every point of the run, each source
runs its own epochs, a resumed mixer yields exactly the batches an uninterrupted one does, and a checkpoint with
another mix is refused."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

import pytest
from helpers.train_helpers import make_shards, sample_dir, train_cmd, workspace

from zqvl.data.shards.reader import ShardStream
from zqvl.errors import UsageError
from zqvl.train.loader import TrainLoader
from zqvl.train.mix import MixedLoader, Source, parse_sources, split_weight


@dataclass
class Item:
    id: str
    length: int

    def __len__(self) -> int:
        return self.length


def as_items(record, images) -> list[Item]:
    return [Item(record.id, sum(len(t.value) for t in record.turns))]


def ids_of(batch: list[Item]) -> list[str]:
    return [item.id for item in batch]


def source_dir(base, name: str, n: int):
    """n records whose ids start with the source's name (so a batch tells where it came from)."""
    data = sample_dir(base / f"{name}_data", n=n, seed=len(name))
    records = json.loads((data / "chat.json").read_text(encoding="utf-8"))
    for r in records:
        r["id"] = f"{name}-{r['id']}"
    (data / "chat.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return make_shards(data, base / f"{name}_shards", max_count=3)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("mix")
    return {"big": source_dir(base, "big", 12), "small": source_dir(base, "small", 4)}


def mixer(sources, weights: dict, workers: int = 0) -> MixedLoader:
    picked = [Source(str(sources[name]), w) for name, w in weights.items()]
    loaders = []
    for i, s in enumerate(picked):
        stream = ShardStream(s.pattern, seed=3 + i, shuffle_buffer=4, transform=as_items, rank=0, world_size=1)
        loaders.append(TrainLoader(stream, batch_size=2, group_batches=2, num_workers=workers, collate_fn=ids_of))
    return MixedLoader(picked, loaders)


def origin(batch: list[str]) -> str:
    (name,) = {i.split("-")[0] for i in batch}  # one source per micro-batch
    return name


def test_three_to_one_at_every_point_and_own_epochs(sources):
    mix = mixer(sources, {"big": 3, "small": 1})
    taken = {"big": 0, "small": 0}
    for k in range(1, 401):
        taken[origin(next(mix))] += 1
        assert abs(taken["big"] - 0.75 * k) <= 1, k  # never more than one batch off the weights
    assert taken == {"big": 300, "small": 100}
    stats = mix.stats()["sources"]
    # 12 records in batches of 2: 6 batches per epoch, 4 records: 2; both have handed out 50 whole epochs and are
    # still in the 50th (index 49): the next one starts when its first window is read
    assert stats[str(sources["big"])]["epoch"] == 300 // 6 - 1
    assert stats[str(sources["small"])]["epoch"] == 100 // 2 - 1
    assert mix.stats()["samples"] == 800
    mix.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_anywhere_gives_the_same_batches(sources, workers):
    reference = mixer(sources, {"big": 2, "small": 1}, workers)
    states, batches = [], []
    for _ in range(40):
        states.append(reference.state_dict())
        batches.append(next(reference))
    reference.close()
    for k in (0, 1, 5, 17, 39):
        resumed = mixer(sources, {"big": 2, "small": 1}, workers)
        resumed.load_state_dict(json.loads(json.dumps(states[k])))  # as it round-trips through a checkpoint
        assert [next(resumed) for _ in range(40 - k)] == batches[k:], k
        resumed.close()


def test_another_mix_or_no_mix_is_refused(sources):
    state = mixer(sources, {"big": 3, "small": 1}).state_dict()
    with pytest.raises(UsageError, match="mixes .*big_shards:3 .*small_shards:1, this run .*:1 .*:1"):
        mixer(sources, {"big": 1, "small": 1}).load_state_dict(state)
    plain = TrainLoader(
        ShardStream(str(sources["big"]), seed=3, transform=as_items, rank=0, world_size=1),
        batch_size=2,
        group_batches=2,
        num_workers=0,
        collate_fn=ids_of,
    )
    with pytest.raises(UsageError, match="written with weighted --shards"):
        plain.load_state_dict(state)
    with pytest.raises(UsageError, match="written without weighted --shards"):
        mixer(sources, {"big": 3, "small": 1}).load_state_dict(plain.state_dict())


def test_weights_parse_from_shard_arguments(tmp_path):
    assert split_weight("shards/ocr:3") == ("shards/ocr", 3.0)
    assert split_weight("shards/ocr:0.5") == ("shards/ocr", 0.5)
    assert split_weight("shards/ocr") == ("shards/ocr", None)
    assert split_weight("s3:bucket/x") == ("s3:bucket/x", None)  # not a number: part of the path
    odd = tmp_path / "odd:2"
    odd.mkdir()
    assert split_weight(str(odd)) == (str(odd), None)  # a real path that ends in :2 stays a path
    with pytest.raises(UsageError, match="must be > 0"):
        split_weight("shards/ocr:0")
    assert parse_sources(["a", "b"]) is None
    assert parse_sources(["a:3", "b"]) == [Source("a", 3.0), Source("b", 1.0)]
    with pytest.raises(UsageError, match="given twice"):
        parse_sources(["a:3", "a:1"])


@pytest.mark.slow
def test_trainer_mixes_and_reports_the_mix(sources, tmp_path_factory):
    base = workspace(tmp_path_factory)
    run = tmp_path_factory.mktemp("mixrun") / "run"
    args = ["--stage", "2", "--model", base / "model", "--shards", f"{sources['big']}:3", f"{sources['small']}:1"]
    args += ["--out", run, "--max-steps", "8", "--batch-size", "2", "--num-workers", "1", "--no-tensorboard"]
    done = subprocess.run(train_cmd(*args), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    mix = json.loads((run / "summary.json").read_text())["mix"]
    assert {m["batches"] for m in mix.values()} == {6, 2}
    assert mix[str(sources["big"])]["share"] == 0.75 and mix[str(sources["small"])]["epoch"] == 1
    assert "mix: " in done.stdout and "75.0% of samples (12)" in done.stdout

"""The shard format's vocabulary: its version, the files of a shard dir, member naming, and manifest.json.

A shard dir holds `NAME-000000.tar, ...` (train), `val/NAME-val-000000.tar, ...` (val), `manifest.json`
(written last: its presence means the run finished), `skipped.jsonl`, and while a run is unfinished
`.progress.json`. Every reader of manifest.json goes through `Manifest.read`, which refuses other versions.

A sample is a group of consecutive tar members sharing a key: `KEY.json` (the canonical record) plus its
images, `KEY.jpg` / `KEY.png` for one image, `KEY.0.jpg`, `KEY.1.png`, ... for several, nothing for text-only
records. Keys never contain '.', so `webdataset` and `datasets` split key and extension the same way we do.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from zqvl.errors import UsageError

FORMAT = "zqvl-shards/1"  # bump when a reader of the old layout would misread the new one
MANIFEST, PROGRESS, SKIPPED = "manifest.json", ".progress.json", "skipped.jsonl"
SKIPPED_PARTIAL = ".skipped.partial.jsonl"
VAL_DIR = "val"
LAYOUT = (
    "KEY = record index (9 digits) + '_' + id slug; members KEY.json (canonical record) and "
    "KEY.jpg|png (one image) or KEY.0.jpg, KEY.1.png, ... (several); text-only: KEY.json"
)
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff")
RESUME_HINT = "an interrupted run: finish it with zqvl-data shard --resume"
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def shard_file(name: str, split: str, n: int) -> str:
    """The path of a split's n-th shard, relative to the shard dir."""
    return f"{name}-{n:06d}.tar" if split == "train" else f"{VAL_DIR}/{name}-{split}-{n:06d}.tar"


def sample_key(index: int, record_id: str) -> str:
    """A unique, webdataset-safe key: the record's position plus a readable slice of its id (no '.', no '/')."""
    slug = _UNSAFE_KEY_CHARS.sub("_", record_id).strip("_")[:40]
    return f"{index:09d}_{slug}" if slug else f"{index:09d}"


def image_member_names(exts: list[str]) -> list[str]:
    """Member suffixes for a record's images in order: ['jpg'] or ['0.jpg', '1.png', ...]."""
    return list(exts) if len(exts) == 1 else [f"{i}.{ext}" for i, ext in enumerate(exts)]


def image_members(suffixes) -> list[str]:
    """The image member suffixes of a sample, in the record's image order (inverse of image_member_names)."""
    numbered, single = [], []
    for s in suffixes:
        head, _, ext = s.rpartition(".")
        if ext.lower() not in IMAGE_EXTS:
            continue
        if not head:
            single.append(s)
        elif head.isdigit():
            numbered.append((int(head), s))
    return single + [s for _, s in sorted(numbered)]


def split_name(name: str) -> tuple[str, str] | None:
    """'dir/KEY.0.jpg' -> ('dir/KEY', '0.jpg'), as webdataset's base_plus_ext does; None when there is no '.'."""
    slash = name.rfind("/") + 1
    dot = name.find(".", slash)
    if dot <= slash:
        return None
    return name[:dot], name[dot + 1 :]


# ---------------------------------------------------------------------------------------------- manifest.json


@dataclass
class ShardEntry:
    file: str  # relative to the shard dir
    samples: int
    bytes: int
    sha256: str | None
    first_record: int  # chat.json positions of its first and last sample
    last_record: int
    layouts: dict[str, int]  # "jpg+json" -> samples with exactly those members


@dataclass
class Split:
    samples: int
    bytes: int
    shards: list[ShardEntry]


@dataclass
class SkippedSummary:
    count: int
    file: str
    by_reason: dict[str, int]


@dataclass
class Manifest:
    source: dict  # input dir and its fingerprint
    options: dict  # the ShardOptions that shaped the output
    name: str
    records: int
    samples: int
    splits: dict[str, Split]  # "train" always, "val" when it has shards
    layouts: dict[str, int]
    skipped: SkippedSummary
    layout: str = LAYOUT
    format: str = FORMAT
    path: Path | None = field(default=None, compare=False, repr=False)  # where it was read from

    def split(self, name: str) -> Split:
        if name not in self.splits:
            where = self.path or MANIFEST
            raise UsageError(f"{where}: no {name!r} split (it has {', '.join(self.splits) or 'none'})")
        return self.splits[name]

    def to_json(self) -> dict:
        return {
            "format": self.format,
            "source": self.source,
            "options": self.options,
            "name": self.name,
            "records": self.records,
            "samples": self.samples,
            "splits": {k: asdict(v) for k, v in self.splits.items()},
            "layouts": self.layouts,
            "skipped": asdict(self.skipped),
            "layout": self.layout,
        }

    @classmethod
    def from_json(cls, obj: object, path: Path | None = None) -> Manifest:
        """A Manifest from parsed JSON; UsageError (one line, naming `path`) for another version or shape."""
        where = path or MANIFEST
        found = obj.get("format") if isinstance(obj, dict) else None
        if found != FORMAT:
            what = f"shard format {found!r}" if isinstance(found, str) else "no shard format version"
            raise UsageError(
                f"{where}: {what}; this zqvl reads {FORMAT!r} (shard the data again with this "
                "version of zqvl-data shard)"
            )
        try:
            splits = {
                k: _build(Split, v, shards=[_build(ShardEntry, e) for e in v["shards"]])
                for k, v in obj["splits"].items()
            }
            return _build(cls, obj, splits=splits, skipped=_build(SkippedSummary, obj["skipped"]), path=path)
        except KeyError as e:
            raise UsageError(f"{where}: not a zqvl shard manifest (no {e.args[0]!r} field)") from None
        except (TypeError, AttributeError) as e:
            raise UsageError(f"{where}: not a zqvl shard manifest ({e})") from None

    @classmethod
    def read(cls, directory: str | Path) -> Manifest:
        """DIR/manifest.json, checked: UsageError naming the file when it is missing, not JSON, or of a
        format version this code does not read."""
        directory = Path(directory)
        path = directory / MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            hint = RESUME_HINT if (directory / PROGRESS).exists() else "not a zqvl-data shard output dir"
            raise UsageError(f"{path}: not found ({hint})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"{path}: unreadable ({e})") from None
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise UsageError(f"{path}: not JSON ({e})") from None
        return cls.from_json(obj, path)


def _build(cls, obj: dict, **given):
    """cls from obj's keys that name its fields (`given` wins; extra keys are ignored; a missing field
    without a default is a KeyError)."""
    values = {}
    for f in fields(cls):
        if f.name in given:
            values[f.name] = given[f.name]
        elif f.name in obj:
            values[f.name] = obj[f.name]
        elif f.default is MISSING:
            raise KeyError(f.name)
    return cls(**values)

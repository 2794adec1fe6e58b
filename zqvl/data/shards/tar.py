"""Tar writing and reading for shards: WebDataset-compatible members, written reproducibly, read tolerantly.

The writer emits exactly what `webdataset.TarWriter(mtime=0, user="zqvl", group="zqvl")` would (USTAR headers,
members sorted by extension, end blocks padded to a 10 KiB record), but copies image files with `sendfile`
and knows a shard's final size before writing a sample, so `--max-size` is a strict bound.
The reader parses headers itself: a damaged header is counted and skipped (it resynchronises on the next valid
header) instead of silently ending the archive as `tarfile` does. Member naming lives in format.py.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zqvl.data.shards.format import split_name

BLOCK = 512
RECORD = 20 * BLOCK  # tarfile pads archives to whole 10 KiB records
MTIME, OWNER, MODE = 0, "zqvl", 0o444


@dataclass(frozen=True)
class Field:
    """One field of a tar header block: `block[field.span]` is its bytes."""

    name: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def span(self) -> slice:
        return slice(self.offset, self.end)


# The POSIX ustar header, in block order: the fields tile bytes 0..500, the rest of the block is padding.
USTAR = {
    f.name: f
    for f in (
        Field(*spec)
        for spec in (
            ("name", 0, 100),
            ("mode", 100, 8),
            ("uid", 108, 8),
            ("gid", 116, 8),
            ("size", 124, 12),
            ("mtime", 136, 12),
            ("chksum", 148, 8),
            ("typeflag", 156, 1),
            ("linkname", 157, 100),
            ("magic", 257, 6),
            ("version", 263, 2),
            ("uname", 265, 32),
            ("gname", 297, 32),
            ("devmajor", 329, 8),
            ("devminor", 337, 8),
            ("prefix", 345, 155),
        )
    )
}
NAME, SIZE, CHKSUM, TYPEFLAG = USTAR["name"], USTAR["size"], USTAR["chksum"], USTAR["typeflag"]
MAGIC, PREFIX = USTAR["magic"], USTAR["prefix"]


def _pad(n: int) -> int:
    return -n % BLOCK


def member_nbytes(size: int) -> int:
    return BLOCK + size + _pad(size)


def archive_nbytes(members_nbytes: int) -> int:
    """Final file size of an archive whose members take `members_nbytes` (end blocks + record padding)."""
    n = members_nbytes + 2 * BLOCK
    return n + (-n % RECORD)


def _tarfile_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, MTIME, MODE
    info.uname = info.gname = OWNER
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


_TEMPLATE = bytearray(_tarfile_header("", 0))
_TEMPLATE[SIZE.span] = bytes(SIZE.size)  # size: filled per member
_TEMPLATE[CHKSUM.span] = b" " * CHKSUM.size  # checksum is computed with its own field as spaces
_TEMPLATE_SUM = sum(_TEMPLATE)


def header(name: str, size: int) -> bytes:
    """The USTAR header tarfile would write for this member (tested byte for byte), ~20x faster."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > NAME.size or size >= 8 ** (SIZE.size - 1):
        return _tarfile_header(name, size)
    block = bytearray(_TEMPLATE)
    block[NAME.offset : NAME.offset + len(raw)] = raw
    size_field = b"%011o\0" % size
    block[SIZE.span] = size_field
    block[CHKSUM.span] = b"%06o\0 " % (_TEMPLATE_SUM + sum(raw) + sum(size_field))
    return bytes(block)


@dataclass
class Member:
    """One member to write: bytes in memory, or `size` bytes copied from the file at `path`."""

    suffix: str
    size: int
    data: bytes | None = None
    path: str | None = None


class ShardFile:
    """A tar being written under a hidden temp name beside `final`; `finish()` completes it (no rename)."""

    def __init__(self, final: Path):
        self.final = Path(final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.final.parent / f".{self.final.name}.{os.getpid()}.tmp"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.nbytes = 0  # bytes of members written so far
        self.count = 0
        self.layouts: dict[str, int] = {}  # "jpg+json" -> samples with exactly those members
        self._pending = bytearray()

    def size_with(self, sample_nbytes: int) -> int:
        return archive_nbytes(self.nbytes + sample_nbytes)

    def add(self, key: str, members: list[Member]) -> None:
        for m in sorted(members, key=lambda m: m.suffix):  # webdataset writes a sample's members sorted
            self._pending += header(f"{key}.{m.suffix}", m.size)
            if m.data is not None:
                self._pending += m.data
            else:
                self._flush()
                _copy_file(m.path, self.fd, m.size)
            self._pending += bytes(_pad(m.size))
            self.nbytes += member_nbytes(m.size)
            if len(self._pending) >= 1 << 20:
                self._flush()
        self.count += 1
        layout = "+".join(sorted(m.suffix for m in members))
        self.layouts[layout] = self.layouts.get(layout, 0) + 1

    def finish(self) -> int:
        """Write the end of archive; returns the final size. The fd stays open for the caller to fsync."""
        final_size = archive_nbytes(self.nbytes)
        self._pending += bytes(final_size - self.nbytes)
        self._flush()
        return final_size

    def abort(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.tmp.unlink(missing_ok=True)

    def _flush(self) -> None:
        with memoryview(self._pending) as view:
            done = 0
            while done < len(view):
                done += os.write(self.fd, view[done:])
        self._pending.clear()


def _copy_file(path: str, out_fd: int, size: int) -> None:
    """Copy exactly `size` bytes of `path` to out_fd in the kernel (sendfile), or fail if the file changed."""
    with open(path, "rb") as src:
        in_fd, offset = src.fileno(), 0
        try:
            while offset < size:
                sent = os.sendfile(out_fd, in_fd, offset, size - offset)
                if sent == 0:
                    break
                offset += sent
        except OSError:  # filesystems without file-to-file sendfile
            src.seek(offset)
            while offset < size:
                chunk = src.read(min(size - offset, 1 << 20))
                if not chunk:
                    break
                os.write(out_fd, chunk)
                offset += len(chunk)
    if offset != size:
        raise OSError(f"{path}: changed while sharding (expected {size} bytes, got {offset})")


# ---------------------------------------------------------------------------------------------------- reading


@dataclass
class Ref:
    """Where a member's bytes are, when they were not read (fast-forward reads headers only)."""

    path: str
    offset: int
    size: int

    def read(self) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            return fh.read(self.size)


def _octal(field: bytes) -> int:
    if field[:1] in (b"\x80", b"\xff"):  # GNU base-256 for big numbers
        n = int.from_bytes(field[1:], "big")
        return n if field[:1] == b"\x80" else n - (1 << (8 * (len(field) - 1)))
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _octal(block[CHKSUM.span])
    except ValueError:
        return False
    return stored == sum(block[: CHKSUM.offset]) + CHKSUM.size * ord(" ") + sum(block[CHKSUM.end :])


def iter_tar(
    path: str, on_error: Callable[[str, str], None], *, read_data: bool | Callable[[], bool] = True
) -> Iterator[tuple[str, bytes | Ref]]:
    """Yield (member name, bytes or Ref) for each regular file in the tar at `path`.

    Damage is reported through on_error(code, message) and skipped: `corrupt_tar_header` (resynchronises on
    the next valid header), `truncated_member` (the archive ends inside a member). With read_data=False the
    data is skipped with a seek and a Ref is yielded: the member sequence is identical either way. read_data
    may be a callable, asked before each member (a stream switches to reading once it has fast-forwarded).
    """
    wants_data = read_data if callable(read_data) else (lambda: read_data)
    file_size = os.path.getsize(path)
    pos, long_name, in_damage = 0, None, False
    with open(path, "rb", buffering=1 << 20) as fh:
        while pos + BLOCK <= file_size:
            block = fh.read(BLOCK)
            if block.count(0) == BLOCK:  # end-of-archive / padding blocks
                pos += BLOCK
                continue
            if not _checksum_ok(block):
                if not in_damage:
                    on_error("corrupt_tar_header", f"{path}: bad tar header at byte {pos}; skipped to the next")
                in_damage = True
                pos += BLOCK
                continue
            in_damage = False
            size, kind = _octal(block[SIZE.span]), block[TYPEFLAG.span]
            data_at, pos = pos + BLOCK, pos + BLOCK + size + _pad(size)
            if data_at + size > file_size:
                on_error("truncated_member", f"{path}: archive ends inside a member at byte {data_at}")
                return
            if kind in (b"L", b"x"):  # GNU long name / pax header: names the next member
                meta = fh.read(size)
                fh.seek(pos)
                long_name = _long_name(kind, meta) or long_name
                continue
            name = long_name or _ustar_name(block)
            long_name = None
            if kind in (b"g", b"K"):  # pax global header / GNU long link name: metadata
                fh.seek(pos)
                continue
            if kind not in (b"0", b"\0", b"7"):  # directories, links, devices: never sample data
                on_error(
                    "non_regular_member",
                    f"{path}: member {name!r} is not a regular file (type {kind.decode('latin-1')!r}); skipped",
                )
                fh.seek(pos)
                continue
            if not _safe_member_name(name):
                on_error("unsafe_member_name", f"{path}: member {name!r} is absolute or climbs out ('..'); skipped")
                fh.seek(pos)
                continue
            if wants_data():
                data = fh.read(size)
                fh.seek(pos)
                yield name, data
            else:
                fh.seek(pos)
                yield name, Ref(path, data_at, size)
        if pos < file_size and fh.read(BLOCK).count(0) != file_size - pos:
            on_error("truncated_member", f"{path}: archive ends inside a header at byte {pos}")


def _safe_member_name(name: str) -> bool:
    """A member name a shard can hold: relative, no '..' component, no NUL or backslash (the writer only
    ever writes KEY.ext)."""
    if not name or name[0] == "/" or "\0" in name or "\\" in name:
        return False
    return ".." not in name.split("/")


def _ustar_name(block: bytes) -> str:
    name = block[NAME.span].split(b"\0", 1)[0]
    if block[MAGIC.span].startswith(b"ustar"):  # a ustar name may keep its leading dirs in prefix
        prefix = block[PREFIX.span].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return name.decode("utf-8", "surrogateescape")


def _long_name(kind: bytes, meta: bytes) -> str | None:
    if kind == b"L":
        return meta.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    for line in meta.decode("utf-8", "surrogateescape").splitlines():  # pax: "LEN key=value"
        _, _, kv = line.partition(" ")
        if kv.startswith("path="):
            return kv[5:]
    return None


@dataclass
class RawSample:
    key: str
    members: dict[str, bytes | Ref]  # suffix ("json", "jpg", "0.png", ...) -> bytes or Ref
    url: str


def iter_samples(
    path: str, on_error: Callable[[str, str], None], *, read_data: bool | Callable[[], bool] = True
) -> Iterator[RawSample]:
    """Group a tar's members into samples; a group without a .json member is reported and dropped."""
    current: RawSample | None = None
    for name, data in iter_tar(path, on_error, read_data=read_data):
        parts = split_name(name)
        if parts is None:
            on_error("bad_member_name", f"{path}: member {name!r} has no extension")
            continue
        key, suffix = parts
        if current is not None and current.key != key:
            yield from _complete(current, on_error)
            current = None
        if current is None:
            current = RawSample(key, {}, path)
        if suffix in current.members:
            on_error("duplicate_member", f"{path}: {key}.{suffix} appears twice; kept the first")
            continue
        current.members[suffix] = data
    if current is not None:
        yield from _complete(current, on_error)


def _complete(sample: RawSample, on_error) -> Iterator[RawSample]:
    if "json" in sample.members:
        yield sample
    else:
        on_error("missing_json", f"{sample.url}: sample {sample.key} has no .json member")

"""Reading chat.json without holding it several times over, and writing outputs atomically.

`iter_json_values` streams a JSON list (chat.json) or a sequence of objects (JSONL) through a bounded text
buffer: only one chunk of text plus the current record is in memory, so a 600K-record file stays small.
Writers put everything under a temporary name and rename on success: a reader never sees a half file.
"""

from __future__ import annotations

import codecs
import filecmp
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zqvl.data.schema import Record, SchemaError, Unparsable, parse_record
from zqvl.errors import UsageError

CHUNK = 1 << 20
_WS = " \t\r\n"
MAX_DEPTH = 64  # records nest ~4 levels; far deeper input only breaks recursion in parsers and pickling
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _skip(buf: str, pos: int, chars: str) -> int:
    n = len(buf)
    while pos < n and buf[pos] in chars:
        pos += 1
    return pos


def _no_duplicate_keys(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {repeated!r}: a later value would silently replace the first")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)


def _value_end(buf: str, pos: int) -> int | None:
    """Index just past the JSON value starting at `pos`, found without parsing (for values the parser refuses:
    too deep, huge integers); None when the buffer ends first."""
    depth, i, n = 0, pos, len(buf)
    while i < n:
        c = buf[i]
        if c == '"':
            i += 1
            while i < n and buf[i] != '"':
                i += 2 if buf[i] == "\\" else 1
            if i >= n:
                return None
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth <= 0:
                return i + 1
        elif depth == 0 and c in ",\n":
            return i
        i += 1
    return None


def _problem(value: Any, text: str) -> str | None:
    """Why a parsed value cannot be a record although it is JSON: nesting beyond MAX_DEPTH, a lone surrogate."""
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        return f"nests deeper than {MAX_DEPTH} levels"
    if _SURROGATE_ESCAPE.search(text):
        bad = _lone_surrogate(value)
        if bad:
            return f"a string holds the lone surrogate {bad!r}, which no UTF-8 file can store"
    return None


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def _lone_surrogate(value: Any) -> str | None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                return v[e.start : e.end]
    return None


def iter_json_values(path: str | Path) -> Iterator[Any]:
    """Yield each element of a top-level JSON list, or each object of a JSONL / concatenated-JSON file.

    Malformed JSON raises UsageError (one line, with the element number and file offset): past a syntax
    error the file cannot be resynchronised. An element that is JSON but cannot be a record — nesting too
    deep, an integer beyond Python's digit limit, a duplicate key, a lone surrogate — is yielded as
    `Unparsable` at its position, so each command skips and names that one record and goes on.
    """
    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise UsageError(f"{path}: cannot open ({e.strerror or e})") from None
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    with fh:
        buf, pos, eof, consumed, bytes_read = "", 0, False, 0, 0

        def fill(grow: bool = False) -> bool:
            """Read the next chunk; `grow` reads as much again as the unfinished value already spans, so a value
            far longer than CHUNK costs a geometric number of re-parses instead of one per chunk."""
            nonlocal buf, pos, eof, consumed, bytes_read
            raw = b"" if eof else fh.read(max(CHUNK, len(buf) - pos) if grow else CHUNK)
            try:
                text = utf8.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                at = bytes_read - (len(e.object) - len(raw)) + e.start
                raise UsageError(f"{path}: not UTF-8 text at byte {max(at, 0)} ({e.reason})") from None
            bytes_read += len(raw)
            if not raw:
                eof = True
            if not text:
                return False
            consumed += pos
            buf, pos = buf[pos:] + text, 0
            return True

        def next_start() -> int:
            nonlocal pos
            while True:
                pos = _skip(buf, pos, _WS)
                if pos < len(buf) or not fill():
                    return pos

        if next_start() >= len(buf):
            raise UsageError(f"{path}: empty file, expected a JSON list of records")
        in_list = buf[pos] == "["
        if in_list:
            pos += 1
        index = 0
        after_comma = False
        while True:
            if next_start() >= len(buf):
                if in_list:
                    raise UsageError(
                        f"{path}: truncated file, the top-level list is never closed (after {index} records)"
                    )
                return
            if in_list and buf[pos] == "]" and not after_comma:
                pos += 1
                if next_start() < len(buf):
                    raise UsageError(f"{path}: unexpected data after the closing ']'")
                return
            while True:
                try:
                    value, end = _DECODER.raw_decode(buf, pos)
                    # A number or literal at the buffer's end may continue in the next chunk.
                    if end == len(buf) and not eof and fill(grow=True):
                        continue
                    problem = _problem(value, buf[pos:end])
                    break
                except json.JSONDecodeError as e:
                    if not eof and fill(grow=True):
                        continue
                    raise UsageError(
                        f"{path}: invalid JSON in record #{index} at byte ~{consumed + e.pos}: {e.msg}"
                    ) from None
                except (RecursionError, ValueError) as e:  # too deep to parse, a huge integer, a duplicate key
                    end = _value_end(buf, pos)
                    if end is None and not eof and fill(grow=True):
                        continue
                    if end is None:
                        raise UsageError(f"{path}: truncated file inside record #{index}") from None
                    problem = (
                        "nests deeper than Python's parser can follow"
                        if isinstance(e, RecursionError)
                        else str(e).splitlines()[0][:160]
                    )
                    value = None
                    break
            yield Unparsable(problem) if problem else value
            index += 1
            pos = end
            if in_list:
                # Exactly one ',' (then another value) or the closing ']' must follow a value.
                next_start()
                if pos < len(buf) and buf[pos] not in ",]":
                    raise UsageError(f"{path}: expected ',' or ']' after record #{index - 1} at byte ~{consumed + pos}")
                after_comma = pos < len(buf) and buf[pos] == ","
                pos += after_comma


def iter_records(path: str | Path, errors: list[tuple[int, SchemaError]] | None = None) -> Iterator[Record]:
    """Parse records from a chat.json; schema failures go to `errors` (index, error) or raise if None."""
    for i, value in enumerate(iter_json_values(path)):
        try:
            yield parse_record(value, i)
        except SchemaError as e:
            if errors is None:
                raise
            errors.append((i, e))


def load_records(path: str | Path) -> list[Record]:
    return list(iter_records(path))


def chat_json(data_dir: str | Path) -> Path:
    """DATA_DIR/chat.json, or a clear usage error."""
    d = Path(data_dir)
    if d.is_file():
        return d
    p = d / "chat.json"
    if not p.is_file():
        raise UsageError(f"{d}: no chat.json here (expected {p})")
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_temp_dir(final: str | Path) -> Path:
    """A temp dir beside `final` (same filesystem, so the closing rename is atomic), with normal permissions.
    Named `.NAME.tmp-*`: zqvl.data.outdir recognises (and removes) those a killed run left."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


@contextmanager
def atomic_path(final: str | Path, suffix: str = ""):
    """Yield a temp path beside `final`; rename over it only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix + ".tmp", dir=final.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should read like any other file
    try:
        yield Path(tmp)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(final: str | Path, mode: str = "w"):
    with atomic_path(final) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


class RecordListWriter:
    """Streams records into a JSON list, one record per line; appears atomically on close."""

    def __init__(self, final: str | Path):
        self._cm = atomic_open(final)
        self._fh = None
        self.count = 0

    def __enter__(self):
        self._fh = self._cm.__enter__()
        self._fh.write("[")
        return self

    def write(self, record: Record | dict) -> None:
        self.write_text(dumps(record.to_json() if isinstance(record, Record) else record))

    def write_text(self, line: str) -> None:
        """A record already written as dumps() writes it (one line)."""
        self._fh.write(("\n" if self.count == 0 else ",\n") + line)
        self.count += 1

    def __exit__(self, *exc):
        if exc[0] is None:
            self._fh.write("\n]\n")
        return self._cm.__exit__(*exc)


class JsonlWriter:
    """One JSON object per line, atomically."""

    def __init__(self, final: str | Path):
        self._cm = atomic_open(final)
        self.count = 0

    def __enter__(self):
        self._fh = self._cm.__enter__()
        return self

    def write(self, obj: dict) -> None:
        self._fh.write(dumps(obj) + "\n")
        self.count += 1

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def write_records(final: str | Path, records) -> int:
    with RecordListWriter(final) as w:
        for r in records:
            w.write(r)
    return w.count


def safe_image_path(images_dir: str | os.PathLike, rel: str) -> str | None:
    """The file `rel` names under `images_dir`, or None when `rel` is empty, absolute or climbs out (`..`).

    The one rule every command applies to a record's image paths ('\\' is read as '/'). Plain strings on
    purpose: validate and clean call this once per image on sets of millions, where pathlib costs more than
    the check itself.
    """
    if not rel or rel[0] in "/\\" or rel[1:2] == ":" or "\x00" in rel:  # NUL: no OS opens it
        return None
    parts = rel.replace("\\", "/").split("/")
    if ".." in parts:
        return None
    clean = "/".join(p for p in parts if p and p != ".")
    return os.path.join(images_dir, clean) if clean else None


def loads_value(text: str | bytes) -> Any:
    """One JSON document (a shard's .json member) under the limits iter_json_values applies to a record:
    no duplicate key, no nesting beyond MAX_DEPTH, no lone surrogate. ValueError names the problem (a
    nesting too deep for Python's parser is a ValueError here, never a RecursionError)."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise ValueError("nests deeper than Python's parser can follow") from None
    problem = _problem(value, text)
    if problem:
        raise ValueError(problem)
    return value


class ImageRoot:
    """The filesystem half of the image-path rule: where `rel` really is, or why it cannot be used.

    `safe_image_path` judges the string; `resolve(rel)` then follows the filesystem. The file's real path
    (every symlink, in a directory or at the file, followed) must lie under the real path of images/, and it
    must be a regular file: a FIFO, socket, device or directory is never opened (opening a FIFO blocks).
    images/ itself may be a symlink to a directory elsewhere: its files are then judged against that real
    directory, so a link inside it may point to a sibling but never out of it. Real paths of directories are
    computed once each (a set of millions has few of them); per file this costs one lstat (plus one stat
    when the file itself is a link). Returns (real path, None) or (None, (code, message)) with codes
    `image.unsafe_path`, `image.missing`, `image.not_a_file`.
    """

    def __init__(self, images_dir: str | os.PathLike):
        self.images_dir = os.fspath(images_dir)
        self._real_root: str | None = None
        self._dirs: dict[str, str] = {}
        self._present = False

    def _require_dir(self, rel: str) -> None:
        """A missing images/ is one problem of the whole dir, not one per record: a usage error, once."""
        if not os.path.isdir(self.images_dir):
            raise UsageError(
                f"{self.images_dir}: no such directory, but records name images (the first: {rel!r}); "
                "images/ belongs next to chat.json"
            )
        self._present = True

    def require_for(self, chat: str | os.PathLike) -> None:
        """The same error before a command creates any output, when some record of `chat` names an image."""
        if os.path.isdir(self.images_dir):
            return
        for value in iter_json_values(chat):
            named = value.get("image") if isinstance(value, dict) else None
            for rel in [named] if isinstance(named, str) else named if isinstance(named, list) else []:
                if isinstance(rel, str) and rel:
                    self._require_dir(rel)

    @property
    def real_root(self) -> str:
        if self._real_root is None:
            self._real_root = os.path.realpath(self.images_dir)
        return self._real_root

    def _inside(self, real: str) -> bool:
        root = self.real_root
        return real.startswith(root) and (len(real) == len(root) or real[len(root)] == os.sep or root == os.sep)

    def _escape(self, rel: str, real: str) -> tuple[str, str]:
        return (
            "image.unsafe_path",
            f"image {rel!r} resolves to {real!r} through a symbolic link, outside images/ ({self.real_root})",
        )

    def resolve(self, rel: str) -> tuple[str | None, tuple[str, str] | None]:
        if not self._present:
            self._require_dir(rel)
        path = safe_image_path(self.images_dir, rel)
        if path is None:
            return None, ("image.unsafe_path", f"image path {rel!r} is absolute or contains '..'")
        parent, name = os.path.split(path)
        real_parent = self._dirs.get(parent)
        if real_parent is None:
            real_parent = self._dirs[parent] = os.path.realpath(parent)
        if not self._inside(real_parent):
            return None, self._escape(rel, real_parent)
        real = os.path.join(real_parent, name)
        try:
            st = os.lstat(real)
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(real)
                if not self._inside(real):
                    return None, self._escape(rel, real)
                st = os.stat(real)
        except FileNotFoundError:
            return None, ("image.missing", f"image {rel!r} not found under {self.images_dir}")
        except OSError as e:  # a path component is a file, a link loop, no permission
            return None, ("image.missing", f"image {rel!r}: {e.strerror or e}")
        if not stat.S_ISREG(st.st_mode):
            return None, ("image.not_a_file", f"image {rel!r} is {_file_kind(st.st_mode)}, not a regular file")
        return real, None


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def resolve_image(images_dir: str | os.PathLike, rel: str) -> tuple[str | None, tuple[str, str] | None]:
    """ImageRoot(images_dir).resolve(rel), for one image; commands keep one ImageRoot per directory."""
    return ImageRoot(images_dir).resolve(rel)


class FilePlacer:
    """Puts files into an output tree: a hard link when source and tree share a filesystem, else a copy.

    Atomic per file: the link or copy is made under a temporary name and renamed, so no half-written file
    ever carries a final name. Each parent directory is created once, and a destination that already holds
    the same file (placed for an earlier record, or by an earlier run) is left alone; one holding another
    file is replaced. `copy=True` always copies (outputs independent of the source's inodes).
    """

    def __init__(self, copy: bool = False, staged: bool = False):
        self.copy = copy
        # staged: the tree is a fresh temp dir that appears whole (outdir.staged), so no file in it needs its
        # own temporary name: one link per file instead of lstat + link + rename.
        self.staged = staged
        self._dirs: set[str] = set()

    def place(self, src: str | os.PathLike, dst: str | os.PathLike) -> None:
        src, dst = os.fspath(src), os.fspath(dst)
        parent = os.path.dirname(dst) or "."
        if parent not in self._dirs:
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        if self.staged and not self.copy:
            try:
                os.link(src, dst)
                return
            except FileExistsError:
                pass  # placed for an earlier record (or another file): the careful path below decides
            except OSError:
                pass  # another filesystem: copied below
        if os.path.lexists(dst) and _same_file(src, dst):
            return
        tmp = os.path.join(parent, f".{os.path.basename(dst)}.{os.getpid()}.tmp")
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)  # left by a killed run with our pid
            if self.copy or not _linked(src, tmp):
                shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise


def _linked(src: str, dst: str) -> bool:
    try:
        os.link(src, dst)
        return True
    except OSError:  # another filesystem, or hard links not allowed
        return False


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False

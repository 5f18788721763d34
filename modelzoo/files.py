"""Writing files so that a crash never leaves a half-written one: temp name, then rename."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path` to write a file or folder to; when the block ends
    without an error it is renamed onto `path` (replacing what was there), else removed.

    The temp name keeps the suffix, because writers such as PIL and Keras choose the format
    from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        rename_onto(tmp, path)
    finally:
        _remove(tmp)


def rename_onto(source: Path, path: Path) -> None:
    """Rename the complete file or folder `source` to `path`, replacing what is there."""
    if not source.is_dir() or not path.exists():
        os.replace(source, path)  # atomic on POSIX
        return
    # A folder cannot be renamed onto a non-empty one: move the old one aside first.
    old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(path, old)
    os.replace(source, path)
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through `replacing`."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, data, *, sort_keys: bool = False) -> Path:
    """Indented JSON via `write_text`."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys,
                                       ensure_ascii=False) + "\n")

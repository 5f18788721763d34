"""Writing files so that a crash never leaves a half-written one: temp name, then rename."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to a temp file beside `path`, then rename it into place (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: str | os.PathLike, data, *, sort_keys: bool = False) -> Path:
    """Indented JSON via `write_text`."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys,
                                       ensure_ascii=False) + "\n")

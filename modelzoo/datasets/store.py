"""The data-dir layout, the cross-process lock and the atomic install of a prepared dataset.

    <data_dir>/
      downloads/<file>             verified upstream files (the download cache)
      downloads/<file>.json        where each cached file came from and its sha256
      downloads/<file>.part        a download in progress (resumed with HTTP Range)
      downloads/<file>.<sha12>.bad a download whose size/sha256 did not match (kept for inspection)
      downloads/unverified/<sha12>/<file>   a --from URL file accepted despite a mismatch
      <name>/                      a prepared dataset: TFRecord shards, info.json,
                                   provenance.json, READY
      .staging/<name>-<pid>-<hex>/ a conversion in progress; renamed to <name>/ when complete
      .locks/<name>.lock           held while a process prepares <name>

A dataset is ready when `<name>/READY` exists. The marker is written last inside the staging folder
and the folder is renamed into place in one step, so a reader never sees a half-written dataset.
No TensorFlow here: `is_ready` must answer in milliseconds.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelzoo import files, ui
from modelzoo.errors import DataError

FORMAT_VERSION = 1
READY = "READY"
INFO = "info.json"
PROVENANCE = "provenance.json"


def dataset_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / name


def downloads_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "downloads"


def is_ready(data_dir: Path, name: str) -> bool:
    marker = dataset_dir(data_dir, name) / READY
    try:
        return json.loads(marker.read_text()).get("format") == FORMAT_VERSION
    except (OSError, ValueError, AttributeError):
        return False


def outdated_bases(data_dir: Path, name: str) -> list[str]:
    """The datasets `name` was generated from that have been prepared again, from other files,
    since it was made (mnist re-downloaded after mnist_m was blended from its digits).

    Compares the upstream files (name and sha256) recorded in `name`'s provenance under
    `derived_from` with those in each base's own provenance now; [] when nothing is recorded.
    """
    try:
        derived = read_json(dataset_dir(data_dir, name) / PROVENANCE).get("derived_from") or {}
    except DataError:
        return []
    outdated = []
    for base, record in sorted(derived.items()):
        try:
            current = read_json(dataset_dir(data_dir, base) / PROVENANCE).get("files", [])
        except DataError:
            continue  # not prepared now: `download` prepares it before `name`
        if _fingerprint(current) != _fingerprint(record.get("files", [])):
            outdated.append(base)
    return outdated


def _fingerprint(files: list[dict]) -> list[tuple[str, str]]:
    return sorted((f.get("file", ""), f.get("sha256", "")) for f in files)


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {path}: {exc}",
                        fix="Prepare the dataset again with `modelzoo download --force`.") from exc


def write_json(path: Path, data: dict) -> None:
    """Deterministic JSON (sorted keys, fixed indentation), written via a temp name."""
    files.write_json(path, data, sort_keys=True)


@contextmanager
def lock(data_dir: Path, name: str) -> Iterator[None]:
    """Hold `<data_dir>/.locks/<name>.lock` (a cross-process file lock) for the block."""
    from filelock import FileLock, Timeout

    folder = Path(data_dir) / ".locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        file_lock = FileLock(str(folder / f"{name}.lock"))
        try:
            file_lock.acquire(timeout=0.2)
        except Timeout:
            ui.info(f"{name}: another modelzoo process is preparing it; waiting for "
                    f"{folder / (name + '.lock')} ...")
            file_lock.acquire()
    except OSError as exc:  # a read-only data dir (or lock file): say so, not a traceback
        raise DataError(f"Cannot write to the data dir {data_dir}: {exc}",
                        fix="Choose a writable folder with --data-dir (or $MODELZOO_DATA_DIR).") \
            from exc
    try:
        yield
    finally:
        file_lock.release()


@contextmanager
def staging(data_dir: Path, name: str) -> Iterator[Path]:
    """A fresh folder to convert into; removed on any failure. Call only under `lock`."""
    root = Path(data_dir) / ".staging"
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f"{name}-*"):  # left by a killed process; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    folder = root / f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        yield folder
    finally:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)


def mark_ready(folder: Path, name: str) -> None:
    write_json(Path(folder) / READY, {"format": FORMAT_VERSION, "name": name})


def install(staged: Path, data_dir: Path, name: str) -> Path:
    """Rename the complete `staged` folder to `<data_dir>/<name>`, replacing an old one."""
    target = dataset_dir(data_dir, name)
    if not (Path(staged) / READY).is_file():
        raise DataError(f"Internal error: {staged} is not complete; not installing it.")
    files.rename_onto(staged, target)
    return target


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")

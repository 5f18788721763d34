"""Safe reading and extraction of tar archives (.tar, .tgz, .tar.gz).

`extract` checks every member before anything is written: absolute paths, `..` components,
symbolic and hard links, device files and FIFOs are refused, as is a member larger than
`max_member_bytes` or an archive whose members add up to more than `max_total_bytes`.
`read_members` (what the converters use: the files are read into memory, never written) applies
the same checks to the members it is asked for. The error names the archive and the member, so a
user can tell a corrupt download from a malicious one.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from modelzoo.errors import DataError

MAX_MEMBER_BYTES = 2 << 30  # 2 GiB: no file of any dataset we know comes close
MAX_TOTAL_BYTES = 16 << 30


def _refuse(archive: Path, member: str, why: str) -> DataError:
    return DataError(
        f"Refusing to read {archive}: member {member!r} {why}. The archive is corrupt or was "
        "not made by the dataset's publisher.",
        fix=f"Delete {archive} and download it again from the URL in the dataset's manifest.")


def check_member(archive: Path, info: tarfile.TarInfo,
                 max_member_bytes: int = MAX_MEMBER_BYTES) -> str:
    """The member's normalised relative path, or a `DataError` saying why it is unsafe."""
    name = info.name
    if info.issym() or info.islnk():
        kind = "symbolic" if info.issym() else "hard"
        raise _refuse(archive, name, f"is a {kind} link (to {info.linkname!r})")
    if info.ischr() or info.isblk() or info.isfifo() or info.isdev():
        raise _refuse(archive, name, "is a device file or FIFO")
    if not (info.isfile() or info.isdir()):
        raise _refuse(archive, name, f"has an unsupported type {info.type!r}")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _refuse(archive, name, "has an absolute path")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        raise _refuse(archive, name, "leaves the extraction folder ('..' in its path)")
    if info.size > max_member_bytes:
        raise _refuse(archive, name, f"is {info.size:,} bytes, over the "
                                     f"{max_member_bytes:,}-byte limit")
    clean = "/".join(p for p in parts if p not in ("", "."))
    return clean


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive} is not a readable tar archive: {exc}",
                        fix=f"Delete {archive} and download it again.") from exc


def _members(archive: Path, tar: tarfile.TarFile, max_member_bytes: int,
             max_total_bytes: int) -> list[tuple[str, tarfile.TarInfo]]:
    checked, total = [], 0
    try:
        for info in tar:
            clean = check_member(archive, info, max_member_bytes)
            total += info.size
            if total > max_total_bytes:
                raise _refuse(archive, info.name, f"brings the total past the "
                                                  f"{max_total_bytes:,}-byte limit")
            checked.append((clean, info))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive} is truncated or corrupt: {exc}",
                        fix=f"Delete {archive} and download it again.") from exc
    return checked


def _normalise(name: str) -> str:
    return "/".join(p for p in PurePosixPath(name.replace("\\", "/")).parts
                    if p not in ("", ".", "/"))


def read_members(archive: Path, select: Callable[[str], bool], *,
                 max_member_bytes: int = MAX_MEMBER_BYTES,
                 max_total_bytes: int = MAX_TOTAL_BYTES) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of the members whose normalised path `select` accepts, in archive order.

    Nothing is written to disk, so only the selected members are checked (a selected link,
    device, absolute or `..` path, or oversize member is refused); the others are skipped.
    """
    archive = Path(archive)
    total = 0
    with _open(archive) as tar:
        members = iter(tar)
        while True:
            try:  # one sequential pass: a gzip stream is never rewound
                info = next(members, None)
                if info is None:
                    return
                if not select(_normalise(info.name)):
                    continue
                clean = check_member(archive, info, max_member_bytes)
                total += info.size
                if total > max_total_bytes:
                    raise _refuse(archive, info.name, f"brings the total past the "
                                                      f"{max_total_bytes:,}-byte limit")
                if not info.isfile():
                    continue
                handle = tar.extractfile(info)
                data = handle.read() if handle else b""
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise DataError(f"{archive} is truncated or corrupt: {exc}",
                                fix=f"Delete {archive} and download it again.") from exc
            if len(data) != info.size:
                raise DataError(f"{archive}: member {info.name!r} is truncated.",
                                fix=f"Delete {archive} and download it again.")
            yield clean, data


def extract(archive: Path, dest: Path, select: Callable[[str], bool] | None = None, *,
            max_member_bytes: int = MAX_MEMBER_BYTES,
            max_total_bytes: int = MAX_TOTAL_BYTES) -> list[Path]:
    """Extract the (selected) regular files of `archive` under `dest`; return their paths.

    Nothing is written unless every member passes the checks. Directories are created as needed;
    permissions and owners from the archive are not applied (files are 0644-ish by umask).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written = []
    with _open(archive) as tar:
        members = _members(archive, tar, max_member_bytes, max_total_bytes)
        for clean, info in members:
            if not info.isfile() or not clean or (select and not select(clean)):
                continue
            target = (root / clean).resolve()
            if root not in target.parents:  # belt and braces: check_member already refused this
                raise _refuse(archive, info.name, "leaves the extraction folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(info)
            with open(target, "wb") as out:
                if source is not None:
                    shutil.copyfileobj(source, out, 1 << 20)
            if target.stat().st_size != info.size:
                raise DataError(f"{archive}: member {info.name!r} is truncated.",
                                fix=f"Delete {archive} and download it again.")
            os.utime(target, None)
            written.append(target)
    return written

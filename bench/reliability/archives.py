"""Malicious archives: every hostile tar member is refused with a message naming it, through
each way the product opens an archive, and nothing is written outside the target folder.

Entry points: `archive.extract` (writes files), `archive.read_members` (what the converters use),
and end to end `modelzoo download --dataset mnist_m --from evil/BSR_bsds500.tgz` with the member
among the photos the converter reads. A decompression bomb is tried on the tar reader (a member
whose header claims 3 GiB) and on the IDX reader (a gzip that inflates to 256 MiB behind an honest
small header), which must refuse without inflating it (peak memory is checked).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import resource
import tarfile
import zlib
from pathlib import Path

from bench.reliability.common import fresh, prepared_data_dir, row, tree
from tests.datasets.datasets_testlib import idx_bytes

CATEGORY = "archives"
PHOTOS = "BSR/BSDS500/data/images/train/"
BOMB_BYTES = 256 << 20


def _attacks(sandbox: Path) -> dict[str, dict]:
    """check -> TarInfo fields of one hostile member (named `{photo}` where a photo would be)."""
    return {
        "absolute path": {"name": str(sandbox / "escape-abs.jpg")},
        "absolute path among the photos": {"name": "/" + PHOTOS + "evil.jpg"},
        "'..' path": {"name": "../escape-dotdot.jpg"},
        "nested '..' path": {"name": "top/../../escape-nested.jpg"},
        "symlink out of the folder": {"name": PHOTOS + "link.jpg", "type": tarfile.SYMTYPE,
                                      "linkname": str(sandbox / "escape-link")},
        "hard link": {"name": PHOTOS + "hard.jpg", "type": tarfile.LNKTYPE,
                      "linkname": "/etc/passwd"},
        "character device": {"name": PHOTOS + "dev.jpg", "type": tarfile.CHRTYPE,
                             "devmajor": 1, "devminor": 3},
        "block device": {"name": PHOTOS + "blk.jpg", "type": tarfile.BLKTYPE,
                         "devmajor": 7, "devminor": 0},
        "FIFO": {"name": PHOTOS + "fifo.jpg", "type": tarfile.FIFOTYPE},
        "member claiming 3 GiB (bomb)": {"name": PHOTOS + "huge.jpg", "size": 3 << 30},
    }


def _write_tar(path: Path, fields: dict) -> Path:
    """A gzipped tar: one harmless photo-named file, then the hostile member (header only)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        ok = tarfile.TarInfo(PHOTOS + "fine.txt")
        ok.size = 4
        tar.addfile(ok, io.BytesIO(b"fine"))
        info = tarfile.TarInfo(fields["name"])
        for key, value in fields.items():
            if key != "name":
                setattr(info, key, value)
        tar.addfile(info, None if info.size == 0 or info.size > 1 << 20 else io.BytesIO(b"x"))
        if info.size > 1 << 20:  # the header is all a bomb needs to be refused
            tar.fileobj.write(b"\0" * 1024)
            tar.offset += 1024
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return path


def _refused(call, member: str, archive: Path) -> tuple[bool, str]:
    from modelzoo.errors import DataError

    with contextlib.redirect_stderr(io.StringIO()):
        try:
            call()
        except DataError as err:
            text = str(err)
            return (repr(member) in text or member.lstrip("/") in text) and str(archive) in text, \
                text.splitlines()[0]
        except Exception as exc:  # noqa: BLE001 - anything else is a finding
            return False, f"{type(exc).__name__}: {exc}"
    return False, "accepted"


def _one(check: str, fields: dict, sandbox: Path, data_dir: Path | None) -> dict:
    from modelzoo import datasets
    from modelzoo.datasets import archive

    evil = _write_tar(sandbox / "BSR_bsds500.tgz", fields)
    before = tree(sandbox)
    target = sandbox / "target"
    calls = {"extract": lambda: archive.extract(evil, target),
             "read_members": lambda: list(archive.read_members(evil, lambda n: True))}
    if data_dir is not None and fields["name"].lstrip("/").startswith(PHOTOS):
        calls["download mnist_m"] = lambda: datasets.download("mnist_m", data_dir,
                                                              source=str(evil))
    outcomes = {name: _refused(call, fields["name"], evil) for name, call in calls.items()}
    written = sorted(p for p in tree(sandbox) - before
                     if not p.startswith(("target", "data/.locks", "data/.staging")))
    written += [p for p in tree(target) if (target / p).is_file() or (target / p).is_symlink()]
    refused = sum(ok for ok, _ in outcomes.values())
    ok = refused == len(calls) and not written and not datasets.is_ready("mnist_m", data_dir)
    notes = "; ".join(f"{name}: {_gist(why)}" for name, (_, why) in outcomes.items())
    if written:
        notes += f"; WROTE {written}"
    return row(CATEGORY, check, len(calls), refused, int(bool(written)),
               "100% refused, nothing written outside", ok, notes)


def _gist(message: str) -> str:
    """'member 'x' is a hard link' out of the full refusal (which also names the archive)."""
    found = re.search(r"(member .*?)\. The archive", message)
    return found.group(1) if found else message[:100]


def _idx_bomb(sandbox: Path) -> dict:
    """An IDX .gz whose header promises 47 MB and whose stream inflates to 256 MiB."""
    from modelzoo.datasets.converters.idx import read_idx

    path = sandbox / "train-images-idx3-ubyte.gz"
    header = idx_bytes(__import__("numpy").zeros((0, 28, 28)))[:4] + \
        (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    chunks = [compressor.compress(header)]
    block = b"\0" * (16 << 20)
    chunks += [compressor.compress(block) for _ in range(BOMB_BYTES // len(block))]
    path.write_bytes(b"".join(chunks) + compressor.flush())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ok, why = _refused(lambda: read_idx(path, 3), str(path), path)
    why = why.split("is not a valid IDX file: ")[-1]
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    ok = ok and grew_mb < BOMB_BYTES / 2 / (1 << 20)
    return row(CATEGORY, f"gzip bomb in an IDX file ({path.stat().st_size // 1024} KiB -> "
               f"{BOMB_BYTES >> 20} MiB)", 1, int(ok), 0, "refused without inflating it", ok,
               f"{why[:110]}; peak memory grew {grew_mb:.0f} MB")


def run(work: Path, quick: bool = False) -> list[dict]:
    data_dir = prepared_data_dir(work)
    rows = []
    for index, check in enumerate(_attacks(work)):
        sandbox = fresh(work / f"attack-{index}")
        rows.append(_one(check, _attacks(sandbox)[check], sandbox, data_dir))
    rows.append(_idx_bomb(fresh(work / "idx-bomb")))
    return rows

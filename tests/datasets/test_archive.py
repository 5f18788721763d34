"""Safe tar extraction: malicious members are refused with a message naming them."""

from __future__ import annotations

import io
import tarfile

import pytest

from modelzoo.datasets import archive
from modelzoo.errors import DataError


def _tar(path, members):
    """members: (TarInfo kwargs, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for kwargs, data in members:
            info = tarfile.TarInfo(kwargs.pop("name"))
            for key, value in kwargs.items():
                setattr(info, key, value)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_extracts_a_clean_archive(tmp_path):
    path = _tar(tmp_path / "ok.tgz", [({"name": "top/a.txt"}, b"hello"),
                                      ({"name": "top/sub", "type": tarfile.DIRTYPE}, None),
                                      ({"name": "./top/sub/b.bin"}, b"\x00\x01")])
    written = archive.extract(path, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == \
        ["top/a.txt", "top/sub/b.bin"]
    assert (tmp_path / "out" / "top" / "a.txt").read_bytes() == b"hello"
    only = dict(archive.read_members(path, lambda n: n.endswith(".bin")))
    assert only == {"top/sub/b.bin": b"\x00\x01"}


@pytest.mark.parametrize("member, needle", [
    ({"name": "/etc/passwd"}, "absolute path"),
    ({"name": "../escape.txt"}, "'..'"),
    ({"name": "top/../../escape.txt"}, "'..'"),
    ({"name": "top/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "symbolic link"),
    ({"name": "top/hard", "type": tarfile.LNKTYPE, "linkname": "top/a.txt"}, "hard link"),
    ({"name": "top/dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, "device"),
    ({"name": "top/fifo", "type": tarfile.FIFOTYPE}, "device file or FIFO"),
], ids=["absolute", "dotdot", "nested-dotdot", "symlink", "hardlink", "chardev", "fifo"])
def test_refuses_malicious_members(tmp_path, member, needle):
    name = member["name"]
    data = b"x" if member.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else None
    path = _tar(tmp_path / "bad.tgz", [({"name": "top/a.txt"}, b"fine"), (dict(member), data)])
    out = tmp_path / "out"
    with pytest.raises(DataError) as err:
        archive.extract(path, out)
    assert needle in str(err.value) and repr(name) in str(err.value) and str(path) in str(err.value)
    assert not any(p.is_file() for p in out.rglob("*"))  # nothing written, not even the good one
    with pytest.raises(DataError):
        list(archive.read_members(path, lambda n: True))
    assert not (tmp_path / "escape.txt").exists()


def test_refuses_oversize_members(tmp_path):
    path = _tar(tmp_path / "big.tgz", [({"name": "big.bin"}, b"x" * 2048)])
    with pytest.raises(DataError, match="'big.bin' is 2,048 bytes, over the 1,024-byte limit"):
        archive.extract(path, tmp_path / "out", max_member_bytes=1024)
    with pytest.raises(DataError, match="total"):
        archive.extract(path, tmp_path / "out", max_total_bytes=1000)


def test_truncated_archive_is_a_clear_error(tmp_path):
    path = _tar(tmp_path / "ok.tgz", [({"name": f"f{i}.bin"}, bytes(range(256)) * 400)
                                      for i in range(4)])
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="cut.tgz"):
        archive.extract(cut, tmp_path / "out")

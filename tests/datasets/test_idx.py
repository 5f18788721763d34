"""The IDX reader: corrupt headers and data are DataErrors naming the file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from tests.datasets.datasets_testlib import idx_bytes

from modelzoo.datasets.converters.idx import read_idx
from modelzoo.errors import DataError


def test_reads_plain_and_gzipped(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(images))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(images)))
    assert np.array_equal(read_idx(tmp_path / "a.idx", 3), images)
    assert np.array_equal(read_idx(tmp_path / "a.idx.gz", 3), images)


@pytest.mark.parametrize("mutate, needle", [
    (lambda b: b"\x00\x00\x0d\x03" + b[4:], "magic"),          # float data, not ubyte
    (lambda b: b"\x12\x34" + b[2:], "magic"),
    (lambda b: b[:3] + b"\x02" + b[4:], "2 dimensions, expected 3"),
    (lambda b: b[:-5], "the file has"),                          # short data
    (lambda b: b + b"\x00", "the file has"),                     # trailing data
    (lambda b: b[:2], "too short"),
    (lambda b: b[:9], "header is truncated"),
], ids=["type", "magic", "dims", "short", "long", "tiny", "header"])
def test_corrupt_headers(tmp_path, mutate, needle):
    raw = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mutate(raw))
    with pytest.raises(DataError) as err:
        read_idx(path, 3)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((50, 28, 28), dtype=np.uint8)))
    path = tmp_path / "x.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="gzip stream is corrupt"):
        read_idx(path, 3)


def test_header_overflowing_int64_is_refused(tmp_path):
    path = tmp_path / "huge"
    path.write_bytes(b"\x00\x00\x08\x03" + b"\xff" * 12)
    with pytest.raises(DataError, match="limit"):
        read_idx(path, 3)


def test_gzip_bomb_is_not_inflated(tmp_path):
    """An honest small header followed by 64 MiB of zeros: refused after reading one byte more."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = packer.compress(idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8)))
    data += b"".join(packer.compress(b"\0" * (1 << 20)) for _ in range(64)) + packer.flush()
    path = tmp_path / "bomb.gz"
    path.write_bytes(data)
    with pytest.raises(DataError, match="more than 7,840"):
        read_idx(path, 3)

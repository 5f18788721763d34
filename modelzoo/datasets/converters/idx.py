"""The IDX format of MNIST and its relatives (gzipped or not).

An IDX file is a 4-byte magic (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the data. Only unsigned bytes (type 0x08) are used by
image datasets. Every header is checked: a wrong magic, unexpected dimensions or short data is a
`DataError` naming the file.

Options: `splits: {SPLIT: {images: FILE, labels: FILE}}`.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from modelzoo.datasets.converters import Converted, SplitData, check_options, option
from modelzoo.errors import ConfigError, DataError

_UBYTE = 0x08
# No IDX dataset comes close (MNIST train images: 47 MB); anything larger is corrupt or hostile.
MAX_DATA_BYTES = 2 << 30


def _fail(path: Path, why: str) -> DataError:
    return DataError(f"{path} is not a valid IDX file: {why}.",
                     fix=f"Delete {path} and fetch it again (or pass a folder with intact files "
                         "to --from).")


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The array in an IDX file of unsigned bytes with `ndim` dimensions.

    The file is streamed: a gzip stream is never decompressed past what the header promises, so
    a decompression bomb costs nothing."""
    path = Path(path)
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
            return _parse(path, stream, ndim)
    except (OSError, EOFError, zlib.error) as exc:
        why = "the gzip stream is corrupt" if gzipped else "it cannot be read"
        raise _fail(path, f"{why} ({exc})") from exc


def _parse(path: Path, stream, ndim: int) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4:
        raise _fail(path, f"only {len(magic)} bytes, too short for a header")
    if magic[:2] != b"\x00\x00" or magic[2] != _UBYTE:
        raise _fail(path, f"magic {magic.hex()} is not an unsigned-byte IDX magic "
                          f"(expected 0000 08 {ndim:02x})")
    if magic[3] != ndim:
        raise _fail(path, f"{magic[3]} dimensions, expected {ndim}")
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise _fail(path, "the header is truncated")
    shape = struct.unpack(f">{ndim}I", dims)
    expected = math.prod(shape)  # a Python int: three uint32 dims overflow int64
    if expected > MAX_DATA_BYTES:
        raise _fail(path, f"the header promises {expected:,} data bytes for shape {shape}, over "
                          f"the {MAX_DATA_BYTES:,}-byte limit")
    data = stream.read(expected + 1)  # one byte more reveals trailing data
    if len(data) != expected:
        got = f"{len(data):,}" if len(data) < expected else f"more than {expected:,}"
        raise _fail(path, f"the header promises {expected:,} data bytes for shape {shape}, "
                          f"the file has {got}")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def read_split(manifest, images_path: Path, labels_path: Path) -> SplitData:
    height, width, channels = manifest.image_shape
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[1:] != (height, width):
        raise _fail(images_path, f"images are {images.shape[1]}x{images.shape[2]}, the manifest "
                                 f"says {height}x{width}")
    if channels != 1:
        raise ConfigError(f"{manifest.where}: the idx converter makes 1-channel images, but "
                          f"image_shape has {channels} channels.",
                          fix=f"Set image_shape to [{height}, {width}, 1] in {manifest.where}.")
    if len(labels) != len(images):
        raise DataError(f"{labels_path} has {len(labels):,} labels but {images_path} has "
                        f"{len(images):,} images.",
                        fix="Use label and image files from the same release.")
    if len(labels) and int(labels.max()) >= manifest.num_classes:
        raise _fail(labels_path, f"label {int(labels.max())} is not below num_classes "
                                 f"{manifest.num_classes}")
    return SplitData(images[..., None].copy(), labels.astype(np.int64))


def convert(manifest, inputs, ctx) -> Converted:
    check_options(manifest, {"splits"})
    splits = option(manifest, "splits", dict)
    out = {}
    for split, files in splits.items():
        if not hasattr(files, "keys") or set(files) != {"images", "labels"}:
            raise ConfigError(f"{manifest.where}: options.splits.{split} must be "
                              "{images: FILE, labels: FILE}.",
                              fix=f"Correct options.splits.{split} in {manifest.where}.")
        try:
            images, labels = inputs.files[files["images"]], inputs.files[files["labels"]]
        except KeyError as exc:
            raise ConfigError(f"{manifest.where}: options.splits.{split} names {exc}, which is "
                              "not one of the manifest's files.",
                              fix=f"List it under files: in {manifest.where}.") from exc
        out[split] = read_split(manifest, images, labels)
    return Converted(out, list(manifest.class_names) if manifest.class_names else None)

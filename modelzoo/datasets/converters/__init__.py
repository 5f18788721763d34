"""Converters: small functions that turn verified upstream files into uint8 image arrays.

A manifest names its converter (`converter: idx`); the module is imported only when a dataset is
prepared. Each module defines

    convert(manifest, inputs, ctx) -> Converted

and may define `find_source(manifest, path, data_dir) -> Inputs` to recognise `--from` layouts other
than "a folder holding the upstream file names" (mnist_m accepts a folder of photos or Ganin's
official MNIST-M folder). Converters return numpy arrays; `records` writes the TFRecords, so a
converter never touches TensorFlow unless it reads another prepared dataset.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from modelzoo.errors import ConfigError, DataError, suggest

CONVERTERS = {
    "idx": "modelzoo.datasets.converters.idx",
    "mnist_m": "modelzoo.datasets.converters.mnist_m",
    "cifar10": "modelzoo.datasets.converters.cifar10",
    "flowers": "modelzoo.datasets.converters.flowers",
}


def get(manifest) -> ModuleType:
    target = CONVERTERS.get(manifest.converter)
    if target is None:
        raise ConfigError(
            f"{manifest.where}: unknown converter {manifest.converter!r}."
            f"{suggest(manifest.converter, CONVERTERS)} Known: {', '.join(sorted(CONVERTERS))}.",
            fix=f"Set 'converter' in {manifest.where} to one of those.")
    return importlib.import_module(target)


@dataclass
class Inputs:
    """What a converter reads: verified files plus their provenance records."""

    files: dict[str, Path]  # upstream file name -> local path
    records: list[dict]  # one provenance entry per upstream input
    kind: str = "files"  # converter-specific: "files", "photos", "official", ...
    extra: dict = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # datasets that must be ready before converting

    @property
    def all_matched(self) -> bool:
        return all(r.get("checksum_matched") is True for r in self.records)


@dataclass
class Context:
    data_dir: Path
    staging: Path  # the folder the dataset is being written into


@dataclass
class SplitData:
    images: np.ndarray  # uint8 [N, H, W, C]
    labels: np.ndarray  # int64 [N]


@dataclass
class Converted:
    splits: dict[str, SplitData]
    class_names: list[str] | None = None
    provenance: dict = field(default_factory=dict)  # converter-specific facts (seed, counts)


def option(manifest, key: str, kind: type, default=None):
    """A converter option from the manifest's `options`, type-checked."""
    options = manifest.options
    if key not in options:
        if default is None:
            raise ConfigError(f"{manifest.where}: converter {manifest.converter!r} needs "
                              f"'options.{key}'.", fix=f"Add options.{key} to {manifest.where}.")
        return default
    value = options[key]
    if kind is list and isinstance(value, tuple):
        return list(value)
    if kind is dict and hasattr(value, "items"):
        return dict(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{manifest.where}: 'options.{key}' must be {kind.__name__}, got "
                          f"{type(value).__name__} {value!r}.",
                          fix=f"Correct options.{key} in {manifest.where}.")
    return value


def check_options(manifest, known: set[str]) -> None:
    for key in manifest.options:
        if key not in known:
            raise ConfigError(
                f"{manifest.where}: unknown key 'options.{key}' for converter "
                f"{manifest.converter!r}.{suggest(key, known)} Known: {', '.join(sorted(known))}.",
                fix=f"Correct options.{key} in {manifest.where}.")


def decode_image(data: bytes, name: str, where: str):
    """A Pillow image from encoded bytes, or a DataError naming the file."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{name} (in {where}) is not a readable image: {exc}",
                        fix=f"Remove or replace {name}, then run the download again.") from exc
    return image

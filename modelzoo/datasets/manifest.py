"""Dataset manifests: `datasets/NAME.yaml` validated into frozen dataclasses.

A manifest is data, not code: what the dataset is (description, homepage, licence, citation), the
upstream files (name, size in bytes, sha256, mirror URLs in the order they are tried), the splits
with their expected example counts, and which converter turns the files into TFRecords.

Validation is strict: an unknown key is a `ConfigError` naming the file and the key with a "did you
mean"; a wrong type names the key path, the expected type and the value. A file without a sha256 is
an error. No TensorFlow here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import yaml

from modelzoo import paths
from modelzoo.errors import ConfigError, suggest, unknown_name

LIST_COMMAND = "modelzoo list datasets"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class FileSpec:
    """One upstream file: its name, size in bytes, sha256 and mirror URLs (tried in order)."""

    filename: str
    size: int
    sha256: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    name: str
    description: str
    homepage: str
    license: str
    citation: str
    converter: str
    image_shape: tuple[int, int, int]
    num_classes: int
    splits: Mapping[str, int]  # split -> expected examples (for the published upstream files)
    files: tuple[FileSpec, ...]
    class_names: tuple[str, ...] | None = None
    generated_from: tuple[str, ...] = ()  # datasets that must be prepared first
    source_dirs: tuple[str, ...] = ()  # sub-folders of a `--from` folder searched for the files
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    path: Path | None = None  # the YAML file it came from

    def file(self, filename: str) -> FileSpec:
        for spec in self.files:
            if spec.filename == filename:
                return spec
        raise KeyError(filename)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else f"datasets/{self.name}.yaml"


# --------------------------------------------------------------------------- discovery





def list_datasets() -> list[str]:
    """Names of the manifests in the manifests folder, sorted."""
    folder = paths.manifests_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.name.startswith("."))


def load_manifest(name: str) -> Manifest:
    """The validated manifest for `name`; `UnknownNameError` with suggestions for a bad name."""
    path = paths.manifests_dir() / f"{name}.yaml"
    if not _NAME.match(name or "") or not path.is_file():
        raise unknown_name("dataset", name, list_datasets(), LIST_COMMAND)
    return parse_manifest(path)


def parse_manifest(path: Path) -> Manifest:
    """Load and strictly validate one manifest file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}",
                          fix=f"Correct the YAML syntax in {path}.") from exc
    return _Checker(path).manifest(data)


# --------------------------------------------------------------------------- validation

_REQUIRED = {"name": str, "description": str, "homepage": str, "license": str, "citation": str,
             "converter": str, "image_shape": list, "num_classes": int, "splits": dict,
             "files": list}
_OPTIONAL = {"class_names": list, "generated_from": list, "source_dirs": list, "options": dict}
_FILE_KEYS = {"filename": str, "size": int, "sha256": str, "urls": list}


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {message}",
                           fix=f"Edit {self.path} (every manifest key is listed in "
                               "modelzoo/datasets/manifest.py).")

    def typed(self, value: Any, expected: type, key: str) -> Any:
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if not ok:
            raise self.fail(f"key '{key}' must be {expected.__name__}, got "
                            f"{type(value).__name__} {value!r}.")
        return value

    def keys(self, data: dict, required: dict, optional: dict, where: str) -> None:
        known = {**required, **optional}
        for key in data:
            if key not in known:
                raise self.fail(f"unknown key '{where}{key}'.{suggest(str(key), known)} "
                                f"Known keys: {', '.join(known)}.")
        for key in required:
            if key not in data:
                raise self.fail(f"missing required key '{where}{key}'.")
        for key, value in data.items():
            self.typed(value, known[key], f"{where}{key}")

    def manifest(self, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise self.fail("a manifest must be a mapping of keys to values.")
        self.keys(data, _REQUIRED, _OPTIONAL, "")
        name = data["name"]
        if name != self.path.stem:
            raise self.fail(f"name {name!r} must match the file name {self.path.stem!r}.")
        shape = data["image_shape"]
        if len(shape) != 3 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                      for d in shape) or shape[2] not in (1, 3):
            raise self.fail(f"key 'image_shape' must be [height, width, channels] with 1 or 3 "
                            f"channels, got {shape!r}.")
        if data["num_classes"] < 1:
            raise self.fail(f"key 'num_classes' must be >= 1, got {data['num_classes']!r}.")
        splits = data["splits"]
        if not splits:
            raise self.fail("key 'splits' must name at least one split.")
        for split, count in splits.items():
            self.typed(count, int, f"splits.{split}")
            if count < 1:
                raise self.fail(f"key 'splits.{split}' must be >= 1, got {count!r}.")
        class_names = data.get("class_names")
        if class_names is not None:
            for i, c in enumerate(class_names):
                self.typed(c, str, f"class_names.{i}")
            if len(class_names) != data["num_classes"]:
                raise self.fail(f"'class_names' has {len(class_names)} names but 'num_classes' "
                                f"is {data['num_classes']}.")
        for key in ("generated_from", "source_dirs"):
            for i, item in enumerate(data.get(key, [])):
                self.typed(item, str, f"{key}.{i}")
        if not data["files"]:
            raise self.fail("key 'files' must list at least one upstream file.")
        files = tuple(self.file(f, i) for i, f in enumerate(data["files"]))
        names = [f.filename for f in files]
        if len(set(names)) != len(names):
            raise self.fail(f"file names must be unique, got {names}.")
        return Manifest(
            name=name, description=data["description"].strip(), homepage=data["homepage"],
            license=data["license"], citation=data["citation"], converter=data["converter"],
            image_shape=tuple(shape), num_classes=data["num_classes"],
            splits=MappingProxyType(dict(splits)), files=files,
            class_names=tuple(class_names) if class_names is not None else None,
            generated_from=tuple(data.get("generated_from", ())),
            source_dirs=tuple(data.get("source_dirs", ())),
            options=_freeze(data.get("options", {})), path=self.path)

    def file(self, data: Any, index: int) -> FileSpec:
        where = f"files.{index}."
        self.typed(data, dict, f"files.{index}")
        self.keys(data, _FILE_KEYS, {}, where)
        filename, sha, size = data["filename"], data["sha256"], data["size"]
        if not filename or "/" in filename or "\\" in filename or filename.startswith("."):
            raise self.fail(f"key '{where}filename' must be a plain file name, got {filename!r}.")
        if not _SHA256.match(sha):
            raise self.fail(f"key '{where}sha256' must be 64 lowercase hex digits, got {sha!r}.")
        if size < 1:
            raise self.fail(f"key '{where}size' must be the file size in bytes, got {size!r}.")
        for j, url in enumerate(data["urls"]):
            self.typed(url, str, f"{where}urls.{j}")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise self.fail(f"key '{where}urls.{j}' must be an http(s) URL, got {url!r}.")
        return FileSpec(filename=filename, size=size, sha256=sha, urls=tuple(data["urls"]))

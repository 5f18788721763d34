"""`download`: describe (manifest) -> fetch + verify -> convert -> install, under a lock.

1. A ready dataset returns at once (no lock, no TensorFlow).
2. Datasets it is made from (`generated_from`, e.g. mnist for mnist_m) are prepared first.
3. Under `<data_dir>/.locks/<name>.lock` (a second process waits, then finds it ready):
   fetch and verify the upstream files, convert them into `.staging/`, write the TFRecords,
   `info.json`, `provenance.json` and finally `READY`, then rename the folder into place.
Anything that fails on the way leaves no dataset folder behind and the cache's good names intact.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from modelzoo import __version__, ui
from modelzoo.datasets import converters, fetch, store
from modelzoo.datasets.converters import Context, Converted, Inputs
from modelzoo.datasets.manifest import Manifest, load_manifest
from modelzoo.errors import DataError


def download(name: str, data_dir: Path, source: str | None = None, force: bool = False) -> Path:
    data_dir = Path(data_dir).expanduser().resolve()
    manifest = load_manifest(name)
    target = store.dataset_dir(data_dir, name)
    if not force and store.is_ready(data_dir, name):
        return target
    src = fetch.parse_source(source)
    converter = converters.get(manifest)
    special = None
    if src is not None and src.path is not None and hasattr(converter, "find_source"):
        special = converter.find_source(manifest, src.path, data_dir)
    needs = special.needs if special is not None else tuple(manifest.generated_from)
    for dep in needs:
        if not store.is_ready(data_dir, dep):
            dep_source = _source_for(dep, src)
            via = f" from {dep_source}" if dep_source else ""
            ui.info(f"{name} is made from {dep}, which is not ready yet: preparing {dep}{via}.")
            download(dep, data_dir, source=dep_source)

    with store.lock(data_dir, name):
        if not force and store.is_ready(data_dir, name):
            ui.info(f"{name}: prepared by another process meanwhile.")
            return target
        inputs = special if special is not None else _inputs(manifest, src, data_dir)
        try:
            with store.staging(data_dir, name) as staged:
                ui.info(f"{name}: converting ({manifest.converter})")
                converted = converter.convert(manifest, inputs, Context(data_dir, staged))
                _check(manifest, converted, inputs)
                _write(manifest, converted, inputs, staged, src)
                store.mark_ready(staged, name)
                store.install(staged, data_dir, name)
        except OSError as exc:  # disk full, permissions: say where, not a traceback
            raise DataError(f"Could not prepare {name} in {data_dir}: {exc}",
                            fix="Free some space or choose another folder with --data-dir, "
                                f"then run `{fetch.download_command(name, data_dir, source)}`.") \
                from exc
    _mention_outdated_derivatives(name, data_dir)
    return target


def _mention_outdated_derivatives(name: str, data_dir: Path) -> None:
    """Say which prepared datasets were generated from the `name` just replaced."""
    from modelzoo.datasets.manifest import list_datasets

    for other in list_datasets():
        if store.is_ready(data_dir, other) and name in store.outdated_bases(data_dir, other):
            ui.info(f"{other} was generated from the previous {name}: `modelzoo download "
                    f"--dataset {other} --data-dir {data_dir}` rebuilds it from this one "
                    f"(training on it asks for that).")


def _source_for(dep: str, src: fetch.Source | None) -> str | None:
    """The same `--from` for a dependency, but only if it holds the dependency's files."""
    if src is None or src.path is None:
        return None
    found = fetch.find_local(load_manifest(dep), src.path)
    return str(src.path) if found else None


def _inputs(manifest: Manifest, src: fetch.Source | None, data_dir: Path) -> Inputs:
    resolved = fetch.resolve(manifest, src, data_dir)
    return Inputs({r.filename: r.path for r in resolved}, [r.record() for r in resolved])


def _check(manifest: Manifest, converted: Converted, inputs: Inputs) -> None:
    expected = set(manifest.splits)
    got = set(converted.splits)
    if got != expected:
        raise DataError(f"{manifest.name}: the converter produced splits {sorted(got)}, the "
                        f"manifest ({manifest.where}) lists {sorted(expected)}.",
                        fix=f"Correct 'splits' in {manifest.where}.")
    shape = tuple(manifest.image_shape)
    verified = inputs.kind == "files" and inputs.all_matched
    for split, data in converted.splits.items():
        if data.images.dtype != np.uint8 or tuple(data.images.shape[1:]) != shape:
            raise DataError(f"{manifest.name}/{split}: images are {data.images.dtype} "
                            f"{tuple(data.images.shape[1:])}, the manifest says uint8 {shape}.",
                            fix=f"Correct image_shape in {manifest.where}.")
        if len(data.labels) != len(data.images):
            raise DataError(f"{manifest.name}/{split}: {len(data.labels)} labels for "
                            f"{len(data.images)} images.")
        count, want = len(data.labels), manifest.splits[split]
        if verified and count != want:
            raise DataError(f"{manifest.name}/{split}: {count:,} examples from files that match "
                            f"the manifest's checksums, but {manifest.where} expects {want:,}.",
                            fix=f"Correct splits.{split} in {manifest.where}.")
        if count != want:
            ui.info(f"{manifest.name}/{split}: {count:,} examples (the published dataset has "
                      f"{want:,}).")


def _write(manifest: Manifest, converted: Converted, inputs: Inputs, staged: Path,
           src: fetch.Source | None) -> None:
    from modelzoo.datasets import records

    splits = {}
    total = sum(len(d.labels) for d in converted.splits.values())
    with ui.progress((f"write {manifest.name} TFRecords"), total=total) as task:
        for split in sorted(converted.splits):
            data = converted.splits[split]
            shards = records.write_split(staged, split, data, task)
            counts = np.bincount(data.labels, minlength=manifest.num_classes)
            splits[split] = {"examples": int(len(data.labels)), "shards": shards,
                             "label_counts": [int(c) for c in counts]}
    class_names = converted.class_names or (list(manifest.class_names)
                                            if manifest.class_names else None)
    store.write_json(staged / store.INFO, {
        "name": manifest.name, "format": store.FORMAT_VERSION,
        "image_shape": list(manifest.image_shape), "image_dtype": "uint8",
        "num_classes": manifest.num_classes, "class_names": class_names,
        "features": records.FEATURES_DOC, "splits": splits})
    manifest_sha = (hashlib.sha256(manifest.path.read_bytes()).hexdigest()
                    if manifest.path else None)
    store.write_json(staged / store.PROVENANCE, {
        "dataset": manifest.name, "prepared": store.now_iso(), "modelzoo": __version__,
        "manifest": manifest.where, "manifest_sha256": manifest_sha,
        "from": src.raw if src else "manifest mirrors",
        "converter": manifest.converter, "all_checksums_matched": inputs.all_matched,
        "files": inputs.records, **converted.provenance})

"""CIFAR-10, python-pickle release (`cifar-10-python.tar.gz`).

The batches are pickles; they are read straight from the (checked) tar archive with a restricted
unpickler that resolves only the few numpy names an array needs, so a tampered archive cannot run
code. Each batch holds `data` uint8 [N, 3072] (channel-major 3x32x32) and `labels`; images are
transposed to HWC. Class names come from `batches.meta` and must match the manifest.

Options: `root` (folder inside the archive), `splits: {SPLIT: [batch, ...]}`, `meta`.
"""

from __future__ import annotations

import importlib
import io
import pickle

import numpy as np

from modelzoo.datasets import archive
from modelzoo.datasets.converters import Converted, SplitData, check_options, option
from modelzoo.errors import DataError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),  # bytes in protocol-2 pickles from Python 3
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return getattr(importlib.import_module(target[0]), target[1])


def load_pickle(data: bytes, name: str, where) -> dict:
    try:
        obj = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 - any failure means a bad file
        raise DataError(f"{where}: member {name} is not a CIFAR pickle: {exc}",
                        fix=f"Delete {where} and download it again.") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{where}: member {name} is not a CIFAR batch (got {type(obj).__name__}).",
                        fix=f"Delete {where} and download it again.")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def convert(manifest, inputs, ctx) -> Converted:
    check_options(manifest, {"root", "splits", "meta"})
    root = option(manifest, "root", str).rstrip("/") + "/"
    splits = option(manifest, "splits", dict)
    meta_name = option(manifest, "meta", str)
    path = inputs.files[manifest.files[0].filename]
    wanted = {root + b for batches in splits.values() for b in batches} | {root + meta_name}
    members = dict(archive.read_members(path, lambda n: n in wanted))
    missing = sorted(wanted - set(members))
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}.",
                        fix="Use the original cifar-10-python.tar.gz.")
    height, width, channels = manifest.image_shape
    meta = load_pickle(members[root + meta_name], meta_name, path)
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])]
    if manifest.class_names and names and names != list(manifest.class_names):
        raise DataError(f"{path}: batches.meta names the classes {names}, the manifest "
                        f"{list(manifest.class_names)}.",
                        fix=f"Use the original archive or correct class_names in {manifest.where}.")
    out = {}
    for split, batches in splits.items():
        images, labels = [], []
        for batch in batches:
            content = load_pickle(members[root + batch], batch, path)
            data = np.asarray(content.get("data"))
            batch_labels = np.asarray(content.get("labels", content.get("fine_labels")))
            size = height * width * channels
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != size:
                raise DataError(f"{path}: {batch} holds data of shape {data.shape} "
                                f"({data.dtype}), expected [N, {size}] uint8.",
                                fix="Use the original cifar-10-python.tar.gz.")
            if len(batch_labels) != len(data):
                raise DataError(f"{path}: {batch} has {len(batch_labels)} labels for "
                                f"{len(data)} images.", fix="Use the original archive.")
            images.append(data.reshape(-1, channels, height, width).transpose(0, 2, 3, 1))
            labels.append(batch_labels.astype(np.int64))
        labels_all = np.concatenate(labels)
        if len(labels_all) and (labels_all.min() < 0 or labels_all.max() >= manifest.num_classes):
            raise DataError(f"{path}: labels outside 0..{manifest.num_classes - 1}.",
                            fix="Use the original archive.")
        out[split] = SplitData(np.ascontiguousarray(np.concatenate(images)), labels_all)
    return Converted(out, names or (list(manifest.class_names) if manifest.class_names else None))

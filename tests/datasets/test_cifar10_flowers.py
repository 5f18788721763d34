"""The cifar10 and flowers converters, through `--from` with tiny fake archives."""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest

from modelzoo import datasets
from modelzoo.errors import DataError

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def _add(tar, name, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _cifar(path, per_batch=3, evil=False):
    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "cifar-10-batches-py/batches.meta",
             pickle.dumps({b"label_names": [c.encode() for c in CIFAR_CLASSES]}, protocol=2))
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = list(range(per_batch))
            batches[name] = (data, labels)
            content = {b"data": data, b"labels": labels, b"batch_label": name.encode()}
            blob = pickle.dumps(_Evil() if evil and name == "test_batch" else content, protocol=2)
            _add(tar, f"cifar-10-batches-py/{name}", blob)
    return batches


class _Evil:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar10_from_a_tarball(tmp_path):
    src = tmp_path / "cifar-10-python.tar.gz"
    batches = _cifar(src)
    path = datasets.download("cifar10", tmp_path / "data", source=str(src))
    info = json.loads((path / "info.json").read_text())
    assert info["splits"]["train"]["examples"] == 15 and info["splits"]["test"]["examples"] == 3
    assert info["class_names"] == CIFAR_CLASSES and info["image_shape"] == [32, 32, 3]

    from modelzoo.datasets.records import read_split

    test = read_split(path, info, "test")
    data, labels = batches["test_batch"]
    assert np.array_equal(test.images, data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert test.labels.tolist() == labels


def test_cifar10_refuses_a_pickle_that_runs_code(tmp_path):
    src = tmp_path / "cifar-10-python.tar.gz"
    _cifar(src, evil=True)
    with pytest.raises(DataError, match="refusing to load posix.system|refusing to load os.system"):
        datasets.download("cifar10", tmp_path / "data", source=str(src))


def test_flowers_from_a_tarball(tmp_path):
    from PIL import Image

    src = tmp_path / "flower_photos.tgz"
    rng = np.random.default_rng(0)
    classes = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    with tarfile.open(src, "w:gz") as tar:
        _add(tar, "flower_photos/LICENSE.txt", b"CC-BY")
        for cls in classes:
            for i, size in enumerate([(60, 40), (40, 60), (200, 150)]):
                buf = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(
                    buf, "JPEG")
                _add(tar, f"flower_photos/{cls}/{i}.jpg", buf.getvalue())
    path = datasets.download("flowers", tmp_path / "data", source=str(src))
    info = json.loads((path / "info.json").read_text())
    assert info["image_shape"] == [128, 128, 3] and info["class_names"] == classes
    assert info["splits"]["test"]["label_counts"] == [1] * 5  # every 10th: the 1st of each
    assert info["splits"]["train"]["label_counts"] == [2] * 5

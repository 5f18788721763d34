"""Manifests: the bundled ones validate; mistakes are ConfigErrors naming file and key."""

from __future__ import annotations

import pytest
import yaml

from modelzoo import datasets
from modelzoo.datasets.manifest import parse_manifest
from modelzoo.errors import ConfigError, UnknownNameError

BUNDLED = ["cifar10", "flowers", "mnist", "mnist_m"]


def test_bundled_manifests_validate():
    assert datasets.list_datasets() == BUNDLED
    for name in BUNDLED:
        m = datasets.load_manifest(name)
        assert m.name == name and m.files and m.splits and m.license and m.citation
        assert all(len(f.sha256) == 64 and f.size > 0 and f.urls for f in m.files)


def test_mnist_manifest_matches_the_published_files():
    m = datasets.load_manifest("mnist")
    assert [f.filename for f in m.files] == ["train-images-idx3-ubyte.gz",
                                             "train-labels-idx1-ubyte.gz",
                                             "t10k-images-idx3-ubyte.gz",
                                             "t10k-labels-idx1-ubyte.gz"]
    for f in m.files:
        assert f.urls[0] == f"https://storage.googleapis.com/cvdf-datasets/mnist/{f.filename}"
        assert "yann.lecun.com/exdb/mnist/" in f.urls[1]
    assert m.file("train-images-idx3-ubyte.gz").sha256 == \
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    assert dict(m.splits) == {"train": 60000, "test": 10000}
    mm = datasets.load_manifest("mnist_m")
    assert mm.generated_from == ("mnist",) and mm.files[0].filename == "BSR_bsds500.tgz"
    assert dict(mm.splits) == {"train": 59000, "valid": 1000, "test": 10000}


def test_unknown_dataset_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'mnist'"):
        datasets.load_manifest("mnsit")


def _write(tmp_path, data, name="mnist"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _mnist(tmp_path):
    return yaml.safe_load(datasets.load_manifest("mnist").path.read_text())


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d.__setitem__("fles", d.pop("files")), "unknown key 'fles'. Did you mean 'files'"),
    (lambda d: d["files"][0].__setitem__("url", d["files"][0].pop("urls")),
     "unknown key 'files.0.url'. Did you mean 'files.0.urls'|unknown key 'files.0.url'"),
    (lambda d: d["files"][1].pop("sha256"), "missing required key 'files.1.sha256'"),
    (lambda d: d["files"][0].__setitem__("sha256", "abc"), "64 lowercase hex"),
    (lambda d: d["files"][0].__setitem__("size", "9912422"), "'files.0.size' must be int, got str"),
    (lambda d: d.__setitem__("name", "other"), "must match the file name"),
    (lambda d: d.__setitem__("image_shape", [28, 28]), "image_shape"),
    (lambda d: d["splits"].__setitem__("train", -1), "splits.train"),
    (lambda d: d["files"][0]["urls"].append("ftp://x/y"), "http(s) URL"),
    (lambda d: d.__setitem__("class_names", ["a"]), "'class_names' has 1 names"),
], ids=["typo", "file-typo", "no-sha", "bad-sha", "size-type", "name", "shape", "split",
        "url", "classes"])
def test_strict_validation(tmp_path, edit, needle):
    data = _mnist(tmp_path)
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_manifest(path)
    assert str(path) in str(err.value)


def test_bad_yaml(tmp_path):
    path = tmp_path / "mnist.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_manifest(path)


def test_manifests_dir_override(tmp_path, monkeypatch):
    data = _mnist(tmp_path)
    monkeypatch.setenv("MODELZOO_MANIFESTS_DIR", str(tmp_path))
    _write(tmp_path, data)
    assert datasets.list_datasets() == ["mnist"]

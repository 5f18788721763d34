"""MNIST-M generation from the shared sample: shapes, counts, the blend rule, sources, and
byte-identical regeneration."""

from __future__ import annotations

import json
import shutil
import tarfile

import numpy as np
import pytest

from tests.datasets.datasets_testlib import tiny_mnist
from typer.testing import CliRunner

from modelzoo import datasets
from modelzoo.cli import app
from modelzoo.datasets.converters.mnist_m import blend, ink_masks
from modelzoo.errors import DataError


def _shards(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.suffix == ".tfrecord" or p.name == "info.json"}


def test_generated_from_the_sample(sample_data_dir):
    info = json.loads((sample_data_dir / "mnist_m" / "info.json").read_text())
    mnist = json.loads((sample_data_dir / "mnist" / "info.json").read_text())
    assert info["image_shape"] == [32, 32, 3] and info["num_classes"] == 10
    counts = {s: v["examples"] for s, v in info["splits"].items()}
    assert counts == {"train": 5000, "valid": 1000, "test": 1000}
    # train + valid are exactly MNIST's train digits, test is MNIST's test digits.
    tv = np.add(info["splits"]["train"]["label_counts"], info["splits"]["valid"]["label_counts"])
    assert tv.tolist() == mnist["splits"]["train"]["label_counts"]
    assert info["splits"]["test"]["label_counts"] == mnist["splits"]["test"]["label_counts"]

    prov = json.loads((sample_data_dir / "mnist_m" / "provenance.json").read_text())
    photos = prov["files"][0]
    assert photos["count"] == 200 and photos["checksum_matched"] is True
    assert prov["seed"] == 0 and "mnist" in prov["derived_from"]


def test_blend_inverts_the_crop_where_the_digit_is():
    rng = np.random.default_rng(0)
    digits = np.zeros((3, 28, 28), np.uint8)
    digits[:, 10:18, 10:18] = 255
    photo = np.full((40, 50, 3), (10, 100, 200), np.uint8)
    out = blend(digits, [photo], rng, (32, 32), 128)
    ink = ink_masks(digits, (32, 32), 128)
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
    assert ink.any() and not ink.all()
    assert (out[ink] == (245, 155, 55)).all() and (out[~ink] == (10, 100, 200)).all()


def test_regenerated_byte_identical_from_a_parent_folder(sample_data_dir, shared_data, tmp_path):
    """`--from <shared/data>` (a DATA_FROM-style parent) prepares mnist from its mnist/ folder
    first, then mnist_m from bsds500/train/: the same bytes as the session's data dir."""
    path = datasets.download("mnist_m", tmp_path, source=str(shared_data))
    assert datasets.is_ready("mnist", tmp_path)
    assert _shards(tmp_path / "mnist") == _shards(sample_data_dir / "mnist")
    assert _shards(path) == _shards(sample_data_dir / "mnist_m")


def _with_mnist(sample_data_dir, tmp_path):
    shutil.copytree(sample_data_dir / "mnist", tmp_path / "mnist")
    return tmp_path


def test_from_the_bsds500_archive(sample_data_dir, shared_data, tmp_path, capsys):
    data_dir = _with_mnist(sample_data_dir, tmp_path / "data")
    src = tmp_path / "src"
    src.mkdir()
    with tarfile.open(src / "BSR_bsds500.tgz", "w") as tar:  # uncompressed: quicker to write
        for photo in sorted((shared_data / "bsds500" / "train").iterdir()):
            tar.add(photo, f"BSR/BSDS500/data/images/train/{photo.name}")
        tar.add(photo, "BSR/BSDS500/data/images/test/not-used.jpg")
    path = datasets.download("mnist_m", data_dir, source=str(src))
    assert _shards(path) == _shards(sample_data_dir / "mnist_m")
    prov = json.loads((path / "provenance.json").read_text())
    assert prov["files"][0]["file"] == "BSR_bsds500.tgz"
    assert prov["files"][0]["checksum_matched"] is False  # not Berkeley's bytes: warned
    assert prov["files"][1]["digest_matches_manifest"] is True and prov["files"][1]["count"] == 200
    assert "differs from the manifest" in capsys.readouterr().err.replace("\n", " ")


def test_unreadable_or_small_photo_is_named(sample_data_dir, shared_data, tmp_path):
    from PIL import Image

    data_dir = _with_mnist(sample_data_dir, tmp_path / "data")
    photos = tmp_path / "photos"
    photos.mkdir()
    first = sorted((shared_data / "bsds500" / "train").iterdir())[0]
    shutil.copy(first, photos / first.name)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match="broken.jpg"):
        datasets.download("mnist_m", data_dir, source=str(photos))
    (photos / "broken.jpg").unlink()
    Image.new("RGB", (20, 20)).save(photos / "tiny.jpg")
    with pytest.raises(DataError, match=r"tiny.jpg.*20x20"):
        datasets.download("mnist_m", data_dir, source=str(photos))
    assert not datasets.is_ready("mnist_m", data_dir)


def test_from_ganins_official_folder(tmp_path):
    from PIL import Image

    root = tmp_path / "mnist_m"
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 4)):
        (root / f"mnist_m_{split}").mkdir(parents=True)
        lines = []
        for i in range(n):
            name = f"{i:08d}.png"
            Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(
                root / f"mnist_m_{split}" / name)
            lines.append(f"{name} {i % 10}")
        (root / f"mnist_m_{split}_labels.txt").write_text("\n".join(lines) + "\n")
    data_dir = tmp_path / "data"  # no mnist needed for the official images
    path = datasets.download("mnist_m", data_dir, source=str(tmp_path))
    info = datasets.dataset_info("mnist_m", data_dir)
    assert info["image_shape"] == [32, 32, 3]
    assert info["splits"] == {"train": 10, "valid": 2, "test": 4}
    assert not datasets.is_ready("mnist", data_dir)
    prov = json.loads((path / "provenance.json").read_text())
    assert prov["generator"] == "official MNIST-M release"

    (root / "mnist_m_test_labels.txt").write_text("00000000.png 3\nmissing.png 1\n")
    with pytest.raises(DataError, match="missing.png"):
        datasets.download("mnist_m", data_dir, source=str(tmp_path), force=True)


def test_rebuilt_when_its_mnist_is_prepared_again(sample_data_dir, shared_data, tmp_path,
                                                  capsys):
    """mnist prepared again from other digits outdates the mnist_m blended from the old ones:
    the mnist download says so, `train` refuses the pair with the command that fixes it, and
    that command rebuilds mnist_m from the new digits. Re-preparing the same files does not."""
    data_dir = tmp_path / "data"
    shutil.copytree(sample_data_dir, data_dir)
    datasets.download("mnist", data_dir, source=str(shared_data / "mnist"), force=True)
    assert "generated from the previous" not in capsys.readouterr().err  # the same files
    new_digits = tmp_path / "new-digits"
    new_digits.mkdir()
    for name, data in tiny_mnist(n_train=60, n_test=20).items():
        (new_digits / name).write_bytes(data)
    datasets.download("mnist", data_dir, source=str(new_digits), force=True)
    assert "mnist_m was generated from the previous mnist" in capsys.readouterr().err

    result = CliRunner().invoke(app, ["train", "dsn", "--data-dir", str(data_dir),
                                      "--set", "train.steps=2"])  # were it to train: briefly
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "'mnist_m'" in said and "earlier 'mnist'" in said
    assert f"modelzoo download --dataset mnist_m --data-dir {data_dir}" in said

    datasets.download("mnist_m", data_dir, source=str(shared_data / "bsds500" / "train"))
    assert "rebuilding mnist_m" in capsys.readouterr().err
    info = json.loads((data_dir / "mnist_m" / "info.json").read_text())
    counts = {split: v["examples"] for split, v in info["splits"].items()}
    assert counts["train"] + counts["valid"] == 60 and counts["test"] == 20
    assert datasets.download("mnist_m", data_dir) == data_dir.resolve() / "mnist_m"
    assert "rebuilding" not in capsys.readouterr().err  # up to date now: a no-op

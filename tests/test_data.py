"""tf.data pipelines over the prepared sample: shapes, ranges, conversion, order, errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from modelzoo.errors import DataError, UnknownNameError

tf = pytest.importorskip("tensorflow")
from modelzoo import data  # noqa: E402


def _first(ds):
    images, labels = next(iter(ds))
    return images.numpy(), labels.numpy()


def _idx_images(path):
    raw = gzip.decompress(path.read_bytes())
    n = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 28, 28)


def test_shallownet_mnist_28x28x1_in_0_1(sample_data_dir, shared_data):
    ds = data.pipeline("mnist", "test", sample_data_dir, batch_size=16)
    assert ds.element_spec[0].shape.as_list() == [None, 28, 28, 1]
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[1].dtype == tf.int64
    images, labels = _first(ds)
    assert images.shape == (16, 28, 28, 1) and labels.shape == (16,)
    assert 0.0 <= images.min() and images.max() <= 1.0
    raw = _idx_images(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")[:16]
    np.testing.assert_allclose(images[..., 0], raw / 255.0, atol=1e-6)  # unshuffled order


def test_dsn_mnist_32x32x3_in_minus1_1(sample_data_dir):
    ds = data.pipeline("mnist", "train", sample_data_dir, batch_size=8, image_size=(32, 32),
                       channels=3, value_range=(-1.0, 1.0), shuffle=True, seed=3)
    images, _ = _first(ds)
    assert images.shape == (8, 32, 32, 3)
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.min() < -0.99
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # gray tiled to RGB
    # Resize after the float conversion: bilinear values between the 1/255 steps appear.
    levels = (images + 1.0) / 2.0 * 255.0
    assert np.abs(levels - np.round(levels)).max() > 1e-3


def test_mnist_m_and_grayscale(sample_data_dir):
    images, labels = _first(data.pipeline("mnist_m", "valid", sample_data_dir, batch_size=4))
    assert images.shape == (4, 32, 32, 3) and labels.dtype == np.int64
    gray, _ = _first(data.pipeline("mnist_m", "valid", sample_data_dir, batch_size=4,
                                   channels=1, image_size=(28, 28)))
    assert gray.shape == (4, 28, 28, 1)


def test_seeded_shuffle_is_reproducible(sample_data_dir):
    def labels(seed):
        ds = data.pipeline("mnist", "train", sample_data_dir, batch_size=64, shuffle=True,
                           seed=seed, repeat=True)
        return np.concatenate([b[1].numpy() for b in ds.take(3)])

    plain = _first(data.pipeline("mnist", "train", sample_data_dir, batch_size=192))[1]
    assert np.array_equal(labels(7), labels(7))
    assert not np.array_equal(labels(7), plain) and not np.array_equal(labels(7), labels(8))


def test_batches_counts_and_drop_remainder(sample_data_dir):
    assert data.num_examples("mnist", "test", sample_data_dir) == 1000
    sizes = [int(b[1].shape[0]) for b in data.pipeline("mnist", "test", sample_data_dir,
                                                        batch_size=300, cache=False)]
    assert sizes == [300, 300, 300, 100]
    dropped = data.pipeline("mnist", "test", sample_data_dir, batch_size=300,
                            drop_remainder=True)
    assert dropped.element_spec[0].shape.as_list() == [300, 28, 28, 1]
    assert sum(1 for _ in dropped) == 3


def test_missing_dataset_says_which_command(tmp_path):
    with pytest.raises(DataError) as err:
        data.pipeline("mnist", "train", tmp_path, batch_size=4)
    assert err.value.fix.startswith("modelzoo download --dataset mnist")
    assert str(tmp_path) in err.value.fix


def test_unknown_split_and_dataset(sample_data_dir):
    with pytest.raises(UnknownNameError, match="'valid'"):
        data.num_examples("mnist_m", "vaild", sample_data_dir)
    with pytest.raises(UnknownNameError, match="'mnist_m'"):
        data.pipeline("mnist-m", "train", sample_data_dir, batch_size=4)

"""ShallowNet (Sequential), MiniGoogLeNet (functional), MiniVGGNet (subclass): every registered
model whose builder lives here builds, has the published size, trains a step, keeps a float32
output under mixed precision, and survives a `.keras` save/load."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from modelzoo import registry

THREE_WAYS = [name for name, entry in registry.MODELS.items()
              if entry.target.split(":")[0] in ("modelzoo.models.shallownet",
                                                "modelzoo.models.minigooglenet",
                                                "modelzoo.models.minivggnet")]
CIFAR_PARAMS = {"shallownet": 328_586, "minigooglenet": 1_656_250, "minivggnet": 1_085_418}
KIND = {"shallownet": keras.Sequential, "minigooglenet": keras.Model, "minivggnet": keras.Model}


def test_the_three_ways_are_registered():
    assert sorted(THREE_WAYS) == sorted(CIFAR_PARAMS)


@pytest.mark.parametrize("name", THREE_WAYS)
def test_builds_with_the_published_parameter_count(name):
    model = registry.create_model(name, input_shape=(32, 32, 3), num_classes=10)
    assert model.count_params() == CIFAR_PARAMS[name]
    assert isinstance(model, KIND[name])


def test_each_is_built_the_way_it_is_named():
    from modelzoo.models.minivggnet import MiniVGGNet

    functional = registry.create_model("minigooglenet", input_shape=(28, 28, 1))
    assert type(functional).__name__ == "Functional"
    assert isinstance(registry.create_model("minivggnet", input_shape=(28, 28, 1)), MiniVGGNet)


@pytest.mark.parametrize("name", THREE_WAYS)
def test_trains_one_step_on_mnist_shapes(name):
    model = registry.create_model(name, input_shape=(28, 28, 1), num_classes=10, dropout=0.5)
    optimizer = keras.optimizers.SGD(0.01)
    images = tf.random.uniform((4, 28, 28, 1), seed=1)
    labels = tf.constant([0, 1, 2, 3], tf.int64)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    before = [np.array(v) for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, model(images, training=True))
    optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    assert np.isfinite(float(loss))
    assert any(not np.allclose(b, np.array(a)) for b, a in zip(before, model.trainable_variables, strict=True))


@pytest.mark.parametrize("name", THREE_WAYS)
def test_output_stays_float32_under_mixed_precision(name):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = registry.create_model(name, input_shape=(28, 28, 1))
        out = model(tf.zeros((2, 28, 28, 1)), training=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out.dtype == tf.float32
    assert np.allclose(np.sum(np.asarray(out), axis=-1), 1.0, atol=1e-3)


@pytest.mark.parametrize("name", THREE_WAYS)
def test_keras_file_round_trip(name, tmp_path):
    model = registry.create_model(name, input_shape=(28, 28, 1))
    images = tf.random.uniform((3, 28, 28, 1), seed=2)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded(images), model(images), atol=1e-6)

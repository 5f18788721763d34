"""The TF DCGAN tutorial's networks: shapes, value ranges and parameter counts."""

import numpy as np
import pytest

from modelzoo.registry import create_model


@pytest.fixture(scope="module")
def nets():
    return create_model("dcgan_mnist", noise_dim=100)


def test_generator_maps_noise_to_28x28x1_images_in_minus_one_one(nets):
    import tensorflow as tf

    noise = tf.random.stateless_normal([8, 100], seed=[1, 2]) * 10.0  # large noise saturates tanh
    for training in (False, True):
        images = nets["generator"](noise, training=training).numpy()
        assert images.shape == (8, 28, 28, 1)
        assert images.dtype == np.float32
        assert images.min() >= -1.0 and images.max() <= 1.0


def test_discriminator_gives_one_unbounded_logit_per_image(nets):
    import tensorflow as tf

    images = tf.random.stateless_uniform([5, 28, 28, 1], seed=[3, 4], minval=-1.0, maxval=1.0)
    logits = nets["discriminator"](images, training=False).numpy()
    assert logits.shape == (5, 1)
    assert np.all(np.isfinite(logits))
    # A logit, not a probability: no sigmoid at the end.
    assert nets["discriminator"].layers[-1].get_config()["activation"] == "linear"


def test_parameter_counts_match_the_tutorial(nets):
    generator, discriminator = nets["generator"], nets["discriminator"]
    count = lambda weights: sum(int(np.prod(w.shape)) for w in weights)  # noqa: E731
    assert generator.count_params() == 2_330_944
    assert count(generator.trainable_weights) == 2_305_472
    assert count(generator.non_trainable_weights) == 25_472  # BatchNorm moving mean/variance
    assert discriminator.count_params() == 212_865


def test_noise_dim_is_the_generator_input(nets):
    small = create_model("dcgan_mnist", noise_dim=16)["generator"]
    assert small.input_shape == (None, 16)
    assert nets["generator"].input_shape == (None, 100)


def test_discriminator_dropout_rate_is_a_parameter():
    import tensorflow as tf

    images = tf.random.stateless_uniform([4, 28, 28, 1], seed=[5, 6], minval=-1.0, maxval=1.0)
    tutorial = create_model("dcgan_mnist")["discriminator"]  # the tutorial's 0.3
    plain = create_model("dcgan_mnist", discriminator_dropout=0.0)["discriminator"]
    assert [layer.rate for layer in tutorial.layers if "dropout" in layer.name] == [0.3, 0.3]
    # In training mode dropout makes two passes differ; without it they are the same.
    assert not np.allclose(tutorial(images, training=True), tutorial(images, training=True))
    np.testing.assert_array_equal(plain(images, training=True), plain(images, training=True))
    assert plain.count_params() == tutorial.count_params()  # dropout has no weights

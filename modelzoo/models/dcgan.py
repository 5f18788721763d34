"""DCGAN for 28×28×1 MNIST, layer for layer as in the TensorFlow DCGAN tutorial.

Source: tensorflow/docs `site/en/tutorials/generative/dcgan.ipynb` (see
`../shared/reference/dsn_dcgan_shallownet.md` §4.2–4.3). Kept as the tutorial has it, not as the
DCGAN paper: LeakyReLU at the Keras default slope 0.3, Keras-default BatchNorm and initialisers.

    generator:      noise (100) -> Dense 7·7·256 -> 7×7×128 -> 14×14×64 -> 28×28×1 in [-1, 1] (tanh)
    discriminator:  28×28×1 -> conv 64 s2 -> conv 128 s2 -> one logit (positive means "real")

Parameters: generator 2,330,944 (25,472 of them BatchNorm moving statistics), discriminator 212,865.
"""

from __future__ import annotations

IMAGE_SHAPE = (28, 28, 1)


def build_generator(noise_dim: int = 100):
    """Noise of shape [batch, noise_dim] -> images [batch, 28, 28, 1] in [-1, 1]."""
    import keras
    from keras import layers

    # Explicit layer names: the engine checkpoints variables by their Keras path, and automatic
    # names (batch_normalization_3, ...) depend on what else the process built first.
    return keras.Sequential(
        [
            keras.Input(shape=(noise_dim,)),
            # The bias is dropped wherever BatchNorm follows: BN's own offset replaces it.
            layers.Dense(7 * 7 * 256, use_bias=False, name="project"),
            layers.BatchNormalization(name="bn0"),
            layers.LeakyReLU(name="lrelu0"),
            layers.Reshape((7, 7, 256), name="reshape"),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False,
                                   name="deconv1"),
            layers.BatchNormalization(name="bn1"),
            layers.LeakyReLU(name="lrelu1"),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False,
                                   name="deconv2"),
            layers.BatchNormalization(name="bn2"),
            layers.LeakyReLU(name="lrelu2"),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False,
                                   activation="tanh", name="deconv3"),
        ],
        name="generator",
    )


def build_discriminator(dropout: float = 0.3):
    """Images [batch, 28, 28, 1] in [-1, 1] -> logits [batch, 1]. `dropout`: the rate after
    each LeakyReLU (the tutorial's 0.3; 0 keeps the layers, which then pass inputs through)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            layers.Conv2D(64, 5, strides=2, padding="same", name="conv1"),
            layers.LeakyReLU(name="lrelu1"),
            layers.Dropout(dropout, name="dropout1"),
            layers.Conv2D(128, 5, strides=2, padding="same", name="conv2"),
            layers.LeakyReLU(name="lrelu2"),
            layers.Dropout(dropout, name="dropout2"),
            layers.Flatten(name="flatten"),
            layers.Dense(1, name="logit"),
        ],
        name="discriminator",
    )


def dcgan_mnist(noise_dim: int = 100, discriminator_dropout: float = 0.3) -> dict:
    """The tutorial's pair: {"generator": keras.Model, "discriminator": keras.Model}."""
    return {"generator": build_generator(noise_dim),
            "discriminator": build_discriminator(discriminator_dropout)}

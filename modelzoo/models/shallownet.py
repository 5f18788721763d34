"""ShallowNet, built with `keras.Sequential` (the first of PyImageSearch's "three ways").

CONV(32, 3×3, same) → ReLU → Flatten → Dense(classes) → softmax. On 32×32×3 CIFAR-10 it has
328,586 parameters; on 28×28×1 MNIST 251,210.
"""

from __future__ import annotations

import keras
from keras import layers


def shallownet(input_shape=(28, 28, 1), num_classes: int = 10, **_unused) -> keras.Model:
    """The seed's ShallowNet; the softmax runs in float32 under a mixed-precision policy."""
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(32, 3, padding="same", name="conv"),
            layers.Activation("relu", name="relu"),
            layers.Flatten(name="flatten"),
            layers.Dense(num_classes, name="logits"),
            # float32 so the probabilities (and the loss) stay exact under mixed_float16
            layers.Activation("softmax", dtype="float32", name="softmax"),
        ],
        name="shallownet",
    )

"""Domain Separation Networks for MNIST -> MNIST-M (Bousmalis et al., NIPS 2016).

The networks of tensorflow/models `research/domain_adaptation/domain_separation/models.py`, as
the DSN recipe uses them (see configs/dsn.yaml):

- `tower` (`dann_mnist`): the shared encoder + classifier, used for both domains. It returns the
  shared code (fc3, where the similarity, difference and reconstruction losses attach), the
  class logits and the flattened conv features (pool2, where Ganin et al.'s DANN attaches its
  domain classifier; `dsn.domain_classifier_on` can add one there).
- `source_encoder`, `target_encoder` (`default_encoder`): one private encoder per domain; every
  layer is conv/dense (no bias) -> BatchNorm (slim defaults: momentum 0.999, eps 1e-3, no scale)
  -> ReLU. The original always runs these in training mode; so does the recipe.
- `decoder` (`small_decoder`): shared by both domains, reconstructs an image from the *sum* of a
  shared and a private code.
- `domain_classifier`: fc 100 -> 1 logit (source 0, target 1) on the shared code; the recipe
  puts the gradient reversal in front of it. `pool2_domain_classifier` is the same on the conv
  features.

slim's L2 regulariser is `wd * sum(w**2) / 2`; Keras' `L2(l)` has no 1/2, hence `L2(wd / 2)`.
The domain classifier has no weight decay, as in the original.
"""

from __future__ import annotations

import keras
from keras import layers

CODE_SIZE = 100  # width of fc3: the shared code, and so of the private codes (they are summed)
POOL2_CHANNELS = 48  # the tower's conv2 width: pool2 holds (H/4)·(W/4)·48 features


def dsn_mnist(num_classes: int = 10, weight_decay: float = 1e-6,
              image_size: tuple[int, int] | list[int] = (32, 32), channels: int = 3,
              code_size: int = CODE_SIZE, center_inputs: bool = False) -> dict[str, keras.Model]:
    """Every DSN network for 32x32x3 inputs in [-1, 1], by name.

    >>> nets = dsn_mnist()
    >>> code, logits, features = nets["tower"](images)  # (B, 100), (B, 10), pool2 (B, 3072)
    >>> recon = nets["decoder"](code + nets["source_encoder"](images, training=True))
    """
    shape = (*image_size, channels)
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    return {
        "tower": shared_tower(shape, num_classes, code_size, regularizer, center_inputs),
        "source_encoder": private_encoder(shape, code_size, regularizer, "source_encoder"),
        "target_encoder": private_encoder(shape, code_size, regularizer, "target_encoder"),
        "decoder": decoder(code_size, shape, regularizer),
        "domain_classifier": domain_classifier(code_size),
        "pool2_domain_classifier": domain_classifier(
            (image_size[0] // 4) * (image_size[1] // 4) * POOL2_CHANNELS, "pool2_domain_classifier"),
    }


def shared_tower(shape, num_classes, code_size, regularizer, center_inputs=False) -> keras.Model:
    """`dann_mnist`: conv32 -> pool -> conv48 -> pool -> fc3 (code) -> fc4 -> logits; no BN.

    Outputs the code, the logits and the flattened pool2 features.

    `center_inputs` subtracts each image's per-channel mean first (the paper's "inputs
    mean-centred"): inside the model, so eval and export see the same inputs as training.
    """
    conv = dict(padding="same", activation="relu", kernel_regularizer=regularizer)
    images = keras.Input(shape, name="images")
    x = images - keras.ops.mean(images, axis=(1, 2), keepdims=True) if center_inputs else images
    x = layers.Conv2D(32, 5, name="conv1", **conv)(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(POOL2_CHANNELS, 5, name="conv2", **conv)(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    features = layers.Flatten(name="flatten")(x)
    code = layers.Dense(code_size, activation="relu", kernel_regularizer=regularizer,
                        name="fc3")(features)
    x = layers.Dense(100, activation="relu", kernel_regularizer=regularizer, name="fc4")(code)
    logits = layers.Dense(num_classes, kernel_regularizer=regularizer, name="fc5")(x)
    return keras.Model(images, [code, logits, features], name="tower")


def _bn(name: str) -> layers.BatchNormalization:
    # slim's batch_norm defaults, which dsn.py uses: decay 0.999, epsilon 1e-3, center, no scale.
    return layers.BatchNormalization(momentum=0.999, epsilon=1e-3, scale=False, name=name)


def _conv_bn(x, filters, kernel, regularizer, name, relu=True):
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False,
                      kernel_regularizer=regularizer, name=name)(x)
    x = _bn(f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _dense_bn(x, units, regularizer, name):
    x = layers.Dense(units, use_bias=False, kernel_regularizer=regularizer, name=name)(x)
    return layers.ReLU(name=f"{name}_relu")(_bn(f"{name}_bn")(x))


def private_encoder(shape, code_size, regularizer, name) -> keras.Model:
    """`default_encoder`: conv32 -> pool -> conv64 -> pool -> fc code, each BN + ReLU."""
    images = keras.Input(shape, name="images")
    x = _conv_bn(images, 32, 5, regularizer, "conv1")
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = _conv_bn(x, 64, 5, regularizer, "conv2")
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    code = _dense_bn(x, code_size, regularizer, "fc3")
    return keras.Model(images, code, name=name)


def decoder(code_size, shape, regularizer) -> keras.Model:
    """`small_decoder`: fc300 -> 10x10x3 -> conv16 x2 -> nearest resize -> conv16 -> conv C.

    Every layer is BN'd; the last conv has no activation but keeps its BN, as coded.
    """
    height, width, channels = shape
    code = keras.Input((code_size,), name="code")
    x = _dense_bn(code, 300, regularizer, "fc1")
    x = layers.Reshape((10, 10, 3), name="reshape")(x)
    x = _conv_bn(x, 16, 3, regularizer, "conv1")
    x = _conv_bn(x, 16, 3, regularizer, "conv2")
    x = layers.Resizing(height, width, interpolation="nearest", name="resize")(x)
    x = _conv_bn(x, 16, 3, regularizer, "conv3")
    images = _conv_bn(x, channels, 3, regularizer, "conv4", relu=False)
    return keras.Model(code, images, name="decoder")


def domain_classifier(width, name="domain_classifier") -> keras.Model:
    """fc 100 ReLU -> fc 1: the logit that a code (or feature vector) came from the target."""
    code = keras.Input((width,), name="code")
    x = layers.Dense(100, activation="relu", name="fc1")(code)
    logit = layers.Dense(1, name="fc2")(x)
    return keras.Model(code, logit, name=name)

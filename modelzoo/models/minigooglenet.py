"""MiniGoogLeNet (Zhang et al. 2017), built with the functional API (the second of the "three ways").

conv_module = Conv → BN → ReLU; inception = a 1×1 and a 3×3 conv_module side by side;
downsample = a 3×3 stride-2 conv_module beside a 3×3 stride-2 max-pool. 1,656,250 parameters on
32×32×3; spatial size 32 → 15 → 7 before the 7×7 average pool. On 28×28 MNIST the maps are 13 and
6 wide, so the final pool covers what is left (global average), which keeps the network the same.
"""

from __future__ import annotations

import keras
from keras import layers


def _conv_module(x, filters: int, kernel: int, stride: int = 1, padding: str = "same", name="",
                 bn_momentum: float = 0.99):
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _inception(x, filters_1x1: int, filters_3x3: int, name: str, bn_momentum: float):
    branch_1 = _conv_module(x, filters_1x1, 1, name=f"{name}_1x1", bn_momentum=bn_momentum)
    branch_3 = _conv_module(x, filters_3x3, 3, name=f"{name}_3x3", bn_momentum=bn_momentum)
    return layers.Concatenate(name=f"{name}_concat")([branch_1, branch_3])


def _downsample(x, filters: int, name: str, bn_momentum: float):
    conv = _conv_module(x, filters, 3, stride=2, padding="valid", name=f"{name}_3x3",
                        bn_momentum=bn_momentum)
    pool = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([conv, pool])


def minigooglenet(input_shape=(32, 32, 3), num_classes: int = 10, dropout: float = 0.5,
                  bn_momentum: float = 0.99, **_unused) -> keras.Model:
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    m = bn_momentum
    x = _conv_module(inputs, 96, 3, name="stem", bn_momentum=m)
    x = _inception(x, 32, 32, "inception_1a", m)
    x = _inception(x, 32, 48, "inception_1b", m)
    x = _downsample(x, 80, "down_1", m)
    x = _inception(x, 112, 48, "inception_2a", m)
    x = _inception(x, 96, 64, "inception_2b", m)
    x = _inception(x, 80, 80, "inception_2c", m)
    x = _inception(x, 48, 96, "inception_2d", m)
    x = _downsample(x, 96, "down_2", m)
    x = _inception(x, 176, 160, "inception_3a", m)
    x = _inception(x, 176, 160, "inception_3b", m)
    pool = min(7, x.shape[1])  # 7 on CIFAR's 32×32; the whole 6×6 map on MNIST's 28×28
    x = layers.AveragePooling2D(pool, name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.Model(inputs, outputs, name="minigooglenet")

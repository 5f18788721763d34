"""MiniVGGNet, written as a `keras.Model` subclass (the third of the "three ways").

[Conv32 3×3 → ReLU → BN] ×2 → MaxPool → [Conv32 3×3 → ReLU → BN] ×2 → MaxPool → Flatten →
Dense 512 → ReLU → BN → Dropout → Dense(classes) → softmax. BN after ReLU and 32 filters in the
second block, as in the PyImageSearch post: 1,085,418 parameters on 32×32×3.
"""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="modelzoo")
class MiniVGGNet(keras.Model):
    def __init__(self, num_classes: int = 10, dropout: float = 0.5, bn_momentum: float = 0.99,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.dropout_rate, self.bn_momentum = num_classes, dropout, bn_momentum
        m = bn_momentum
        self.block_1 = [layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1a"),
                        layers.BatchNormalization(momentum=m, name="bn1a"),
                        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1b"),
                        layers.BatchNormalization(momentum=m, name="bn1b"),
                        layers.MaxPooling2D(2, name="pool1")]
        self.block_2 = [layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2a"),
                        layers.BatchNormalization(momentum=m, name="bn2a"),
                        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2b"),
                        layers.BatchNormalization(momentum=m, name="bn2b"),
                        layers.MaxPooling2D(2, name="pool2")]
        self.flatten = layers.Flatten(name="flatten")
        self.fc = layers.Dense(512, activation="relu", name="fc")
        self.fc_bn = layers.BatchNormalization(momentum=m, name="fc_bn")
        self.dropout = layers.Dropout(dropout, name="dropout")
        self.logits = layers.Dense(num_classes, name="logits")
        self.softmax = layers.Activation("softmax", dtype="float32", name="softmax")

    def call(self, images, training=False):
        x = images
        for layer in (*self.block_1, *self.block_2):
            x = layer(x, training=training)
        x = self.fc_bn(self.fc(self.flatten(x)), training=training)
        return self.softmax(self.logits(self.dropout(x, training=training)))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dropout": self.dropout_rate, "bn_momentum": self.bn_momentum}


def minivggnet(input_shape=(32, 32, 3), num_classes: int = 10, dropout: float = 0.5,
               bn_momentum: float = 0.99, **_unused) -> keras.Model:
    model = MiniVGGNet(num_classes=num_classes, dropout=dropout, bn_momentum=bn_momentum,
                       name="minivggnet")
    # A subclassed model has no weights until it is called: call it once now so that they can be
    # counted, checkpointed and restored before the first training step.
    model(keras.ops.zeros((1, *input_shape)))
    return model

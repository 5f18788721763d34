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
    def __init__(self, num_classes: int = 10, dropout: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.dropout_rate = num_classes, dropout
        self.block_1 = [layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1a"),
                        layers.BatchNormalization(name="bn1a"),
                        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1b"),
                        layers.BatchNormalization(name="bn1b"),
                        layers.MaxPooling2D(2, name="pool1")]
        self.block_2 = [layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2a"),
                        layers.BatchNormalization(name="bn2a"),
                        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2b"),
                        layers.BatchNormalization(name="bn2b"),
                        layers.MaxPooling2D(2, name="pool2")]
        self.flatten = layers.Flatten(name="flatten")
        self.fc = layers.Dense(512, activation="relu", name="fc")
        self.fc_bn = layers.BatchNormalization(name="fc_bn")
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
                "dropout": self.dropout_rate}


def minivggnet(input_shape=(32, 32, 3), num_classes: int = 10, dropout: float = 0.5,
               **_unused) -> keras.Model:
    model = MiniVGGNet(num_classes=num_classes, dropout=dropout, name="minivggnet")
    # A subclassed model has no weights until it is called: call it once now so that they can be
    # counted, checkpointed and restored before the first training step.
    model(keras.ops.zeros((1, *input_shape)))
    return model

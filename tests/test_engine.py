"""Engine pieces that need no data: what a checkpoint holds, and the step-boundary arithmetic."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from modelzoo.engine import checkpointable


class ListHeld(keras.Model):
    """Sub-layers in a Python list: Keras tracks them, tf.train.Checkpoint alone does not."""

    def __init__(self):
        super().__init__()
        self.blocks = [keras.layers.Dense(3), keras.layers.BatchNormalization(),
                       keras.layers.Dropout(0.5)]

    def call(self, x, training=False):
        for layer in self.blocks:
            x = layer(x, training=training)
        return x


def _moving_mean(model):
    return next(np.array(v) for v in model.variables if v.name == "moving_mean")


def test_checkpoint_keeps_batchnorm_statistics_of_list_held_layers(tmp_path):
    for build in (lambda: keras.Sequential([keras.Input((2,)), keras.layers.Dense(3),
                                            keras.layers.BatchNormalization()]),
                  lambda: ListHeld()):
        model = build()
        model(tf.ones((4, 2)), training=True)  # moves the BatchNorm statistics off zero
        trained = _moving_mean(model)
        assert np.any(trained != 0)
        path = tf.train.Checkpoint(**checkpointable({"model": model})).save(str(tmp_path / "c"))
        fresh = build()
        fresh(tf.ones((1, 2)))
        tf.train.Checkpoint(**checkpointable({"model": fresh})).restore(path) \
            .assert_existing_objects_matched()
        np.testing.assert_array_equal(_moving_mean(fresh), trained)


def test_checkpoint_keys_do_not_depend_on_keras_auto_names():
    first, second = keras.layers.Dense(2), keras.layers.Dense(2)  # dense_N, dense_N+1
    first.build((None, 3))
    second.build((None, 3))
    assert first.path != second.path
    assert list(checkpointable({"m": first})["m"]) == list(checkpointable({"m": second})["m"])


def test_other_objects_are_checkpointed_as_they_are():
    generator = tf.random.Generator.from_seed(1)
    assert checkpointable({"noise": generator})["noise"] is generator

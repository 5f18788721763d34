"""The classifier recipe: losses are per-replica shares of the global-batch mean, metrics and
the confusion matrix count correctly, mixed_float16 brings a LossScaleOptimizer, and every
replica draws its own augmentation."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from modelzoo import config
from modelzoo.recipes.classifier import (Classifier, ConfusionMatrix,
                                         PerReplicaAugmentation, augmentation)
from tests.engine_testlib import QUIET, REPO


def make(data_dir, **train):
    cfg = config.load("shallownet").config
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train))
    recipe = Classifier(cfg, data_dir)
    recipe.build(tf.distribute.get_strategy())
    return recipe


def test_train_step_returns_the_global_batch_mean_cross_entropy(sample_data_dir):
    recipe = make(sample_data_dir, optimizer=config.OptimizerConfig(learning_rate=0.0))
    images, labels = next(iter(recipe.train_dataset(16, seed=0)))
    expected = keras.losses.SparseCategoricalCrossentropy()(labels, recipe.model(images))
    loss = recipe.train_step((images, labels))["loss"]
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert 0.0 <= float(recipe.train_metrics()[0].result()) <= 1.0


def test_train_dataset_repeats_with_full_batches_and_eval_covers_each_example_once(
        sample_data_dir):
    recipe = make(sample_data_dir)
    for images, labels in recipe.train_dataset(64, seed=1).take(100):  # > one epoch of 6,000
        assert images.shape == (64, 28, 28, 1) and labels.shape == (64,)
    total = sum(int(b[1].shape[0]) for b in recipe.eval_dataset("test", 300))
    assert total == 1000


def test_eval_metrics_and_confusion_matrix(sample_data_dir):
    recipe = make(sample_data_dir)
    recipe.reset_eval()
    for batch in recipe.eval_dataset("test", 256):
        recipe.eval_step(batch)
    results = recipe.eval_results()
    assert set(results) == {"loss", "accuracy"}
    matrix = recipe.last_confusion_matrix
    assert matrix.shape == (10, 10) and matrix.sum() == 1000
    assert results["accuracy"] == pytest.approx(np.trace(matrix) / 1000, abs=1e-6)


def test_confusion_matrix_metric_counts_pairs():
    metric = ConfusionMatrix(3)
    metric.update_state(tf.constant([0, 1, 2, 2]), tf.one_hot([0, 2, 2, 1], 3))
    np.testing.assert_array_equal(metric.result(), [[1, 0, 0], [0, 0, 1], [0, 1, 1]])


def test_mixed_float16_uses_a_loss_scale_optimizer(sample_data_dir):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        recipe = make(sample_data_dir)
        batch = next(iter(recipe.train_dataset(8, seed=0)))
        loss = recipe.train_step(batch)["loss"]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(recipe.optimizer, keras.optimizers.LossScaleOptimizer)
    assert loss.dtype == tf.float32 and np.isfinite(float(loss))


def test_augmentation_keeps_shapes():
    images = tf.random.uniform((4, 32, 32, 3))
    assert augmentation()(images, training=True).shape == images.shape


def _digit_batch(count: int) -> np.ndarray:
    images = np.zeros((count, 16, 16, 1), np.float32)
    images[:, 4:12, 6:10] = 1.0  # the same bar in every image: only the transforms differ
    return images


def test_on_one_device_the_augmentation_draws_as_keras_does():
    images = _digit_batch(4)
    keras.utils.set_random_seed(3)
    plain = augmentation()
    keras.utils.set_random_seed(3)
    per_replica = PerReplicaAugmentation(augmentation())
    np.testing.assert_array_equal(per_replica(images), plain(images, training=True))


# Logical devices can be set only before TensorFlow starts: a process of its own.
TWO_REPLICAS = """
import json, numpy as np, tensorflow as tf
cpu, = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from modelzoo.recipes.classifier import PerReplicaAugmentation, augmentation
from tests.recipes.test_classifier import _digit_batch
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    augment = augmentation()
    augment.build((None, 16, 16, 1))
    per_replica = PerReplicaAugmentation(augment)
batches = strategy.experimental_distribute_dataset(
    tf.data.Dataset.from_tensors(_digit_batch(4)).repeat(2))
step = tf.function(lambda batch: strategy.run(per_replica, (batch,)))
same = [bool(np.array_equal(*[r.numpy() for r in strategy.experimental_local_results(step(b))]))
        for b in batches]
print(json.dumps({"same": same}))
"""


def test_two_replicas_draw_different_transforms():
    result = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True,
                            text=True, timeout=120, env={**os.environ, **QUIET}, cwd=REPO)
    assert result.returncode == 0, result.stderr
    # Each replica holds two copies of one image: equal outputs would mean equal transforms.
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"same": [False, False]}

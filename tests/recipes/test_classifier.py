"""The classifier recipe: losses are per-replica shares of the global-batch mean, metrics and
the confusion matrix count correctly, mixed_float16 brings a LossScaleOptimizer."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from modelzoo import config
from modelzoo.recipes.classifier import Classifier, ConfusionMatrix


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
    from modelzoo.recipes.classifier import augmentation

    images = tf.random.uniform((4, 32, 32, 3))
    assert augmentation()(images, training=True).shape == images.shape

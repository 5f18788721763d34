"""Supervised classification: cross-entropy on one labelled dataset (ShallowNet, MiniVGGNet, ...).

The step reads like the TF "custom training with tf.distribute" tutorial: an unreduced Keras loss,
averaged over the GLOBAL batch with `tf.nn.compute_average_loss`, so the engine's SUM over replicas
is the mean. Under `mixed_float16` the optimizer is a `LossScaleOptimizer` and the loss is scaled
before the gradient (the model's softmax stays float32).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from modelzoo import plots
from modelzoo.optim import build_optimizer, needs_loss_scale
from modelzoo.recipes.base import Recipe
from modelzoo.registry import create_model


class ConfusionMatrix(keras.metrics.Metric):
    """Counts of (true class, predicted class); a Keras metric so it sums correctly over replicas."""

    def __init__(self, num_classes: int, name: str = "confusion_matrix", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.counts = self.add_variable(shape=(num_classes, num_classes), initializer="zeros",
                                        aggregation="sum", name="counts")

    def update_state(self, labels, probabilities, sample_weight=None):
        predicted = tf.argmax(probabilities, axis=-1)
        self.counts.assign_add(tf.math.confusion_matrix(
            tf.reshape(labels, [-1]), predicted, num_classes=self.num_classes, dtype=self.dtype))

    def result(self):
        return self.counts.value


def augmentation() -> keras.Sequential:
    """PyImageSearch's ImageDataGenerator as Keras layers (shear has no layer here: left out)."""
    layers = keras.layers
    return keras.Sequential([
        layers.RandomRotation(18 / 360, fill_mode="nearest"),
        layers.RandomZoom(0.15, fill_mode="nearest"),
        layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
        layers.RandomFlip("horizontal"),
    ], name="augmentation")


class PerReplicaAugmentation:
    """Calls `augment` so that every replica draws its own random transforms.

    Keras's random layers draw from a `SeedGenerator` whose [seed, counter] state is a mirrored
    variable: every replica would give its (different) images the same rotations and shifts.
    Before each call the seed is offset by the replica's index. Replica 0, and so a single
    device, draws as before, and a resumed run draws as an uninterrupted one: the counters move
    in step on every replica and the checkpoint keeps replica 0's.
    """

    REPLICA_OFFSET = 1_000_003  # a prime, so the offset seeds of two layers do not meet

    def __init__(self, augment: keras.Sequential):
        self.augment = augment
        # `generator` is where Keras's random layers keep their SeedGenerator; should that ever
        # move, tests/recipes/test_classifier.py's two-replica test fails.
        self.seeds = [(layer.generator, int(layer.generator.state.numpy()[0]))
                      for layer in augment.layers if hasattr(layer, "generator")]

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        for generator, seed in self.seeds:
            state = generator.state
            offset = tf.cast(replica, state.dtype) * self.REPLICA_OFFSET
            state.assign(tf.stack([seed + offset, state.value[1]]))
        return self.augment(images, training=True)


class Classifier(Recipe):
    def build(self, strategy):
        cfg = self.config
        classes = cfg.model.num_classes
        self.model = create_model(cfg.model.name, input_shape=self.input_shape,
                                  num_classes=classes, dropout=cfg.model.dropout,
                                  bn_momentum=cfg.model.bn_momentum)
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(reduction=None)
        self.optimizer = build_optimizer(cfg.train.optimizer, loss_scale=needs_loss_scale())
        self.optimizer.build(self.model.trainable_variables)  # before tracing (see style guide)
        self.augment = None  # a PerReplicaAugmentation with data.augment
        self.train_accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.eval_loss = keras.metrics.Mean(name="loss")
        self.eval_accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.confusion = ConfusionMatrix(classes)
        trackables = {"model": self.model, "optimizer": self.optimizer}
        if cfg.data.augment:
            layers = augmentation()
            layers.build((None, *self.input_shape))
            trackables["augment"] = layers  # its random state resumes too
            self.augment = PerReplicaAugmentation(layers)
        return trackables

    @property
    def input_shape(self) -> tuple[int, int, int]:
        height, width = self.config.data.image_size
        return (height, width, self.config.data.channels)

    # -- data
    def train_dataset(self, global_batch_size, seed):
        return self.pipeline(self.config.data.train_split, global_batch_size, shuffle=True,
                             seed=seed, repeat=True, cache=self.config.data.cache,
                             drop_remainder=True)

    def eval_dataset(self, split, global_batch_size):
        return self.pipeline(split, global_batch_size, cache=False)

    # -- steps (per replica)
    def train_step(self, batch):
        images, labels = batch
        if self.augment is not None:
            images = self.augment(images)
        with tf.GradientTape() as tape:
            probabilities = self.model(images, training=True)
            loss = tf.nn.compute_average_loss(self.cross_entropy(labels, probabilities))
            if self.model.losses:  # weight decay: a per-replica term, scaled like the batch
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
            scaled = self.optimizer.scale_loss(loss)  # identity unless LossScaleOptimizer
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.train_accuracy.update_state(labels, probabilities)
        return {"loss": loss}

    def eval_step(self, batch):
        images, labels = batch
        probabilities = self.model(images, training=False)
        self.eval_loss.update_state(self.cross_entropy(labels, probabilities))
        self.eval_accuracy.update_state(labels, probabilities)
        self.confusion.update_state(labels, probabilities)

    # -- metrics
    def train_metrics(self):
        return [self.train_accuracy]

    def reset_eval(self):
        for metric in (self.eval_loss, self.eval_accuracy, self.confusion):
            metric.reset_state()

    def eval_results(self):
        # Read here, on every worker: reading sums over replicas, which is a collective op
        # under multi-worker, while on_evaluate runs on the chief only.
        self.last_confusion_matrix = self.confusion.result().numpy()
        return {"loss": float(self.eval_loss.result()),
                "accuracy": float(self.eval_accuracy.result())}

    # -- other commands
    def networks(self):
        return {"classifier": self.model}

    def inference_model(self):
        return self.model

    def on_evaluate(self, step: int, run_dir: Path) -> None:
        labels = [str(i) for i in range(self.config.model.num_classes)]
        plots.confusion_matrix(self.last_confusion_matrix, labels, Path(run_dir) / "confusion_matrix.png",
                               title=f"{self.config.name}: step {step}")

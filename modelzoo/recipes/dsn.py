"""Domain Separation Networks (Bousmalis et al., NIPS 2016) and their baselines, as one recipe.

One training step, per replica, on a source batch (labelled) and a target batch (labels unused):

    loss = classification(source)                                    # the task
         + mu(step) * (gamma * similarity(shared codes)              # dann | mmd | none
                       + beta  * [difference(source) + difference(target)]
                       + alpha * [reconstruction(source) + reconstruction(target)])
         + weight decay

with mu = 1e-10 before `dsn.warmup_steps` and 1 after (the original's "DSN loss coefficient").
DANN similarity sums one domain classifier's loss per layer in `dsn.domain_classifier_on` (the
code's: fc3 only); `dsn.clip_global_norm` > 0 clips each update (neither is in the original).
The same step gives every row of the paper's Table 1 through the `dsn:` config section:
`use_separation: false` is the DANN or MMD baseline (the README's `--nouse_separation`),
`similarity: none` the source-only baseline, `train_on: target` the target-only bound.

Evaluation reports `accuracy` (target domain: the paper's metric), `source_accuracy` and, when
there is a domain classifier, `domain_accuracy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from modelzoo import losses
from modelzoo.config import DSNConfig
from modelzoo.files import replacing
from modelzoo.optim import build_optimizer, clip_global_norm
from modelzoo.recipes.base import Recipe
from modelzoo.registry import create_model

WARMUP_MU = 1e-10  # what dsn.py multiplies the domain losses by before the start point
# `dsn.domain_classifier_on` entry -> the network that reads that layer
DOMAIN_CLASSIFIERS = {"fc3": "domain_classifier", "pool2": "pool2_domain_classifier"}
PICTURE_EXAMPLES = 8  # per domain, in the reconstruction picture


class DSN(Recipe):
    """Shared tower + private encoders + shared decoder, trained on two domains at once."""

    def __init__(self, config, data_dir):
        super().__init__(config, data_dir)
        self.dsn = config.dsn or DSNConfig()

    # ------------------------------------------------------------------ set-up
    def build(self, strategy) -> dict[str, Any]:
        data, dsn = self.config.data, self.dsn
        nets = create_model(self.config.model.name, num_classes=self.config.model.num_classes,
                            weight_decay=dsn.weight_decay, image_size=tuple(data.image_size),
                            channels=data.channels, center_inputs=dsn.center_inputs)
        self.tower = nets["tower"]
        self.nets = {"tower": self.tower}
        if dsn.similarity == "dann":
            for layer in dsn.domain_classifier_on:
                self.nets[DOMAIN_CLASSIFIERS[layer]] = nets[DOMAIN_CLASSIFIERS[layer]]
        if dsn.use_separation:
            for name in ("source_encoder", "target_encoder", "decoder"):
                self.nets[name] = nets[name]
        # Only the networks a variant uses are trained and checkpointed.
        self.variables = [v for net in self.nets.values() for v in net.trainable_variables]
        self.optimizer = build_optimizer(self.config.train.optimizer)
        self.optimizer.build(self.variables)
        self.xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        self.task_accuracy = keras.metrics.SparseCategoricalAccuracy(name="task_accuracy")
        self.train_domain_accuracy = keras.metrics.BinaryAccuracy(
            name="domain_accuracy", threshold=0.0)  # on logits: > 0 means "target"
        self.eval_metrics = {
            "accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            "source_accuracy": keras.metrics.SparseCategoricalAccuracy(name="source_accuracy"),
            "domain_accuracy": keras.metrics.BinaryAccuracy(name="domain_accuracy",
                                                            threshold=0.0),
        }
        return {**self.nets, "optimizer": self.optimizer}

    # ------------------------------------------------------------------ data
    def images_per_step(self) -> int:
        return 2 * self.config.train.batch_size  # a source and a target batch

    def train_dataset(self, global_batch_size: int, seed: int):
        """Two independently shuffled, repeated streams zipped: one (source, target) pair a step.

        `train.batch_size` is the batch *per domain* (the paper's 32 + 32).
        """
        data = self.config.data
        common = dict(shuffle=True, repeat=True, cache=data.cache, drop_remainder=True)
        source = self.pipeline(data.train_split, global_batch_size, dataset=data.dataset,
                               seed=seed, **common)
        target = self.pipeline(data.train_split, global_batch_size, dataset=self._target_name(),
                               seed=None if seed is None else seed + 1, **common)
        return tf.data.Dataset.zip((source, target)).prefetch(tf.data.AUTOTUNE)

    def eval_dataset(self, split: str, global_batch_size: int):
        """Source examples then target examples, once each, as (images, labels, is_target).

        The target uses `split` (MNIST-M has train/valid/test); the source uses it too when it
        has one of that name, else its test split (MNIST has no `valid`).
        """
        data = self.config.data
        common = dict(shuffle=False, repeat=False, cache=False, drop_remainder=False, seed=0)
        source_split = split if split in ("train", data.test_split) else data.test_split
        source = self.pipeline(source_split, global_batch_size, dataset=data.dataset, **common)
        target = self.pipeline(split, global_batch_size, dataset=self._target_name(), **common)
        tag = lambda value: lambda x, y: (x, y, tf.fill(tf.shape(y), value))  # noqa: E731
        return source.map(tag(0.0)).concatenate(target.map(tag(1.0)))

    def _target_name(self) -> str:
        if not self.config.data.target_dataset:
            from modelzoo.errors import ConfigError

            raise ConfigError("The dsn recipe needs data.target_dataset (e.g. mnist_m).",
                              fix="--set data.target_dataset=mnist_m")
        return self.config.data.target_dataset

    # ------------------------------------------------------------------ steps
    def train_step(self, batch) -> dict[str, tf.Tensor]:
        (source, source_labels), (target, target_labels) = batch
        with tf.GradientTape() as tape:
            terms = self._losses(source, source_labels, target, target_labels)
            total = tf.add_n(list(terms.values()))
        gradients = tape.gradient(total, self.variables)
        if self.dsn.clip_global_norm:
            gradients = clip_global_norm(gradients, self.dsn.clip_global_norm)
        self.optimizer.apply(gradients, self.variables)
        return {"loss": total, **terms}

    def _losses(self, source, source_labels, target, target_labels) -> dict[str, tf.Tensor]:
        dsn, average = self.dsn, tf.nn.compute_average_loss
        # One tower pass over both domains: it has no batch norm, so this equals two passes.
        codes, logits, features = self.tower(tf.concat([source, target], 0), training=True)
        source_code, target_code = tf.split(codes, 2)
        source_logits, target_logits = tf.split(logits, 2)
        if dsn.train_on == "target":  # the upper bound: supervised on the target domain
            labels, task_logits = target_labels, target_logits
        else:
            labels, task_logits = source_labels, source_logits
        terms = {"classification": average(self.xent(labels, task_logits))}
        self.task_accuracy.update_state(labels, task_logits)

        mu = tf.where(self.optimizer.iterations < dsn.warmup_steps, WARMUP_MU, 1.0)
        if dsn.similarity != "none":
            by_layer = _by_layer(codes, features)  # both domains, source first
            terms["similarity"] = dsn.gamma * mu * self._similarity(by_layer)
        if dsn.use_separation:
            terms.update(self._separation(mu, source, source_code, target, target_code))
        decay = tf.add_n([tf.add_n(net.losses) for net in self.nets.values() if net.losses]
                         or [tf.constant(0.0)])
        terms["weight_decay"] = tf.nn.scale_regularization_loss(decay)
        return terms

    def _similarity(self, by_layer):
        """MMD between the domains' shared codes, or the DANN loss of every domain classifier
        (the first listed one reports `domain_accuracy`)."""
        if self.dsn.similarity == "mmd":
            source_code, target_code = tf.split(by_layer["fc3"], 2)
            return tf.nn.scale_regularization_loss(losses.mmd_loss(source_code, target_code))
        half = tf.shape(by_layer["fc3"])[0] // 2
        labels = losses.domain_labels(half, half)
        total = 0.0
        for index, layer in enumerate(self.dsn.domain_classifier_on):
            reversed_features = losses.gradient_reversal(by_layer[layer])
            domain_logits = self.nets[DOMAIN_CLASSIFIERS[layer]](reversed_features, training=True)
            if index == 0:
                self.train_domain_accuracy.update_state(labels, domain_logits)
            total += tf.nn.compute_average_loss(losses.dann_loss(domain_logits, labels))
        return total

    def _separation(self, mu, source, source_code, target, target_code) -> dict[str, tf.Tensor]:
        dsn = self.dsn
        difference = reconstruction = 0.0
        for images, shared, encoder in ((source, source_code, "source_encoder"),
                                        (target, target_code, "target_encoder")):
            private = self.nets[encoder](images, training=True)  # BN always trains, as coded
            recon = self.nets["decoder"](shared + private, training=True)
            difference += tf.nn.scale_regularization_loss(losses.difference_loss(private, shared))
            reconstruction += self._reconstruction(images, recon)
        return {"difference": dsn.beta * mu * difference,
                "reconstruction": dsn.alpha * mu * reconstruction}

    def _reconstruction(self, images, recon):
        if self.dsn.recon_loss == "mse":
            return tf.nn.compute_average_loss(losses.mse(images, recon))
        # contrib's mean_pairwise_squared_error *sums* over the batch: keep that scale, so the
        # paper's alpha range applies. Summed over replicas by the engine: the global batch sum.
        return tf.reduce_sum(losses.scale_invariant_mse(images, recon))

    def eval_step(self, batch) -> None:
        images, labels, is_target = batch
        codes, logits, features = self.tower(images, training=False)
        self.eval_metrics["accuracy"].update_state(labels, logits, sample_weight=is_target)
        self.eval_metrics["source_accuracy"].update_state(labels, logits,
                                                          sample_weight=1.0 - is_target)
        if self.dsn.similarity == "dann":
            layer = self.dsn.domain_classifier_on[0]
            inputs = _by_layer(codes, features)[layer]
            domain_logits = self.nets[DOMAIN_CLASSIFIERS[layer]](inputs, training=False)
            self.eval_metrics["domain_accuracy"].update_state(is_target[:, None], domain_logits)

    # ------------------------------------------------------------------ metrics
    def train_metrics(self) -> list[keras.metrics.Metric]:
        if self.dsn.similarity == "dann":
            return [self.task_accuracy, self.train_domain_accuracy]
        return [self.task_accuracy]

    def reset_eval(self) -> None:
        for metric in self.eval_metrics.values():
            metric.reset_state()

    def eval_results(self) -> dict[str, float]:
        """`accuracy` (target), `source_accuracy`, and `domain_accuracy` for DANN similarity."""
        names = ["accuracy", "source_accuracy"]
        names += ["domain_accuracy"] if self.dsn.similarity == "dann" else []
        return {name: float(self.eval_metrics[name].result()) for name in names}

    def eval_info(self) -> dict[str, Any]:
        """`examples` counts the target images `accuracy` is measured on (the engine counted
        both domains); the metrics' weight sums are those counts."""
        count = {k: int(m.count.numpy()) for k, m in self.eval_metrics.items()
                 if k in ("accuracy", "source_accuracy")}
        return {"examples": count["accuracy"], "source_examples": count["source_accuracy"]}

    # ------------------------------------------------------------------ other commands
    def networks(self) -> dict[str, keras.Model]:
        return dict(self.nets)

    def inference_model(self) -> keras.Model:
        """The shared tower's classifier: images in [-1, 1] -> class logits."""
        return keras.Model(self.tower.inputs, self.tower.outputs[1], name="dsn_classifier")

    def on_train_end(self, run_dir: Path) -> None:
        if self.dsn.use_separation:
            save_reconstructions(self, Path(run_dir) / "reconstructions.png")


def _by_layer(codes, features) -> dict[str, tf.Tensor]:
    """The tower's outputs by the names `dsn.domain_classifier_on` uses."""
    return {"fc3": codes, "pool2": features}


# ---------------------------------------------------------------------- the paper's picture


def save_reconstructions(recipe: DSN, path: Path, count: int = PICTURE_EXAMPLES) -> Path:
    """Source and target test images beside their full, shared-only and private-only
    reconstructions (the paper's Figure 2): one row per image, the two domains side by side."""
    from PIL import Image

    data = recipe.config.data
    panels = []
    for dataset, encoder in ((data.dataset, "source_encoder"),
                             (data.target_dataset, "target_encoder")):
        batch = recipe.pipeline(data.test_split, count, dataset=dataset, shuffle=False, repeat=False,
                                cache=False, drop_remainder=False, seed=0)
        images, _ = next(iter(batch))
        shared, _, _ = recipe.tower(images, training=False)
        private = recipe.nets[encoder](images, training=True)
        decode = lambda code: recipe.nets["decoder"](code, training=True)  # noqa: E731
        columns = [images, decode(shared + private), decode(shared),
                   decode(private)]
        panels.append(np.concatenate([_to_uint8(c.numpy(), image=(i == 0))
                                      for i, c in enumerate(columns)], axis=2))
    gap = np.full((panels[0].shape[0], panels[0].shape[1], 4, 3), 255, np.uint8)
    grid = np.concatenate([panels[0], gap, panels[1]], axis=2)  # (count, H, W_total, 3)
    picture = np.concatenate(list(grid), axis=0)
    with replacing(path) as tmp:
        Image.fromarray(picture).resize((picture.shape[1] * 2, picture.shape[0] * 2),
                                        Image.NEAREST).save(tmp)
    return path


def _to_uint8(batch: np.ndarray, image: bool) -> np.ndarray:
    """Inputs map [-1, 1] to 0..255; reconstructions (unbounded, and shift-invariant under
    the scale-invariant loss) are min-max scaled per image, as TensorBoard shows them."""
    if image:
        scaled = (batch + 1.0) / 2.0
    else:
        low = batch.min(axis=(1, 2, 3), keepdims=True)
        high = batch.max(axis=(1, 2, 3), keepdims=True)
        scaled = (batch - low) / np.maximum(high - low, 1e-8)
    if scaled.shape[-1] == 1:
        scaled = np.repeat(scaled, 3, axis=-1)
    return (np.clip(scaled, 0.0, 1.0) * 255).round().astype(np.uint8)

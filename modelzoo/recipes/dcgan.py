"""DCGAN (Radford et al. 2016) as the TensorFlow DCGAN tutorial trains it, on the zoo's engine.

One training step = one discriminator and one generator update from the same forward pass, with two
Adam optimisers and binary cross-entropy on logits (the non-saturating generator loss):

    d_loss = BCE(1, D(x)) + BCE(0, D(G(z)))        g_loss = BCE(1, D(G(z)))

With `gan.r1_gamma` > 0 the discriminator's loss also has the R1 gradient penalty (Mescheder et
al., "Which Training Methods for GANs do actually Converge?", ICML 2018),
gamma/2 * E||grad_x D(x)||^2 over the real images: on a small training set the discriminator
overfits, and the penalty keeps it flat around the data.

With `gan.ema_decay` > 0 the recipe also keeps an exponential moving average of the generator's
weights (Yazici et al., "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019): it
is what evaluation, the grids, `modelzoo sample` and `modelzoo export` use, since averaging
smooths out the oscillation of adversarial training. Training itself is unchanged.

Evaluation scores the generator with the TF-GAN MNIST metrics (`modelzoo.gan_metrics`) on a zoo
classifier (`gan.classifier`): `gan.metric_samples` real images of the eval split, as many generated
images, and — so the figures read without a paper — real training images (the ceiling) and the
generator at its initial weights (the floor). Pictures: a grid from a fixed noise seed at every
evaluation (`samples/step_XXXXXX.png`), and at the end an animated GIF of those grids.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from modelzoo import gan_metrics, plots, runs, sample
from modelzoo.config import GANConfig, OptimizerConfig
from modelzoo.errors import ConfigError
from modelzoo.optim import build_optimizer
from modelzoo.recipes.base import Recipe
from modelzoo.registry import create_model

SAMPLES_DIR = "samples"
GIF_NAME = "samples.gif"
LOSSES_NAME = "losses.png"
IMAGE_RANGE = [-1.0, 1.0]  # the generator ends in tanh


class DCGAN(Recipe):
    """Generator and discriminator from the model registry (`dcgan_mnist`), trained adversarially."""

    def __init__(self, config, data_dir: Path):
        super().__init__(config, data_dir)
        self.gan = config.gan or GANConfig()
        if [float(v) for v in config.data.value_range] != IMAGE_RANGE:
            raise ConfigError(f"data.value_range must be {IMAGE_RANGE} for a DCGAN (the generator "
                              f"ends in tanh), got {config.data.value_range}.",
                              fix="--set data.value_range=[-1,1]")
        self.seed = config.train.seed if config.train.seed is not None else 0
        self.classifier = None  # loaded on the first evaluation, with its statistics

    # -- set-up
    def build(self, strategy: tf.distribute.Strategy) -> dict[str, Any]:
        self.strategy = strategy
        nets = create_model(self.config.model.name, noise_dim=self.gan.noise_dim,
                            discriminator_dropout=self.gan.discriminator_dropout)
        self.generator, self.discriminator = nets["generator"], nets["discriminator"]
        # The network that is evaluated and sampled: the weight average, or the generator itself.
        self.sampler = self.generator
        trackables = {}
        if self.gan.ema_decay > 0:
            self.sampler = create_model(self.config.model.name,
                                        noise_dim=self.gan.noise_dim)["generator"]
            self.sampler.set_weights(self.generator.get_weights())
            trackables["average_generator"] = self.sampler
        self._check_image_shape()
        # Two optimisers, one per network; built now so the traced step finds their slots.
        self.g_optimizer = build_optimizer(self._generator_optimizer_config())
        self.d_optimizer = build_optimizer(self.config.train.optimizer)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        # Checkpointed, with its own stream per replica, so a resumed run draws the same noise.
        self.noise = tf.random.Generator.from_seed(self.seed)
        # The floor of the evaluation. `modelzoo train` seeds Keras before build, so in training
        # these are the run's own step-0 weights, resumed or not.
        self.initial_generator_weights = self.generator.get_weights()
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)
        self.d_accuracy = keras.metrics.BinaryAccuracy(name="d_accuracy", threshold=0.0)
        return {"generator": self.generator, "discriminator": self.discriminator,
                "g_optimizer": self.g_optimizer, "d_optimizer": self.d_optimizer,
                "noise": self.noise, **trackables}

    def _generator_optimizer_config(self) -> OptimizerConfig:
        """train.optimizer, at gan.generator_learning_rate when one is set."""
        shared = self.config.train.optimizer
        if self.gan.generator_learning_rate is None:
            return shared
        return dataclasses.replace(shared, learning_rate=self.gan.generator_learning_rate)

    def _check_image_shape(self) -> None:
        data = self.config.data
        wanted = (*data.image_size, data.channels)
        made = tuple(self.generator.output_shape[1:])
        if tuple(wanted) != made:
            raise ConfigError(f"data.image_size {data.image_size} with data.channels "
                              f"{data.channels} does not match the generator's {made} images.",
                              fix=f"--set data.image_size=[{made[0]},{made[1]}] "
                                  f"--set data.channels={made[2]}")

    # -- data
    def train_dataset(self, global_batch_size: int, seed: int) -> tf.data.Dataset:
        return self._images(self.config.data.train_split, global_batch_size, train=True, seed=seed)

    def eval_dataset(self, split: str, global_batch_size: int) -> tf.data.Dataset:
        """The first `gan.metric_samples` images of `split`; eval_step adds as many fakes."""
        images = self._images(split, global_batch_size).unbatch()
        return images.take(self.gan.metric_samples).batch(global_batch_size)

    def _images(self, split: str, batch_size: int, train: bool = False, seed: int = 0):
        # Evaluation reads only the first metric_samples images: a cache would be left partial.
        batches = self.pipeline(split, batch_size, shuffle=train, seed=seed, repeat=train,
                                cache=self.config.data.cache and train, drop_remainder=train)
        return batches.map(lambda image, label: image)  # labels are unused: the GAN is unconditional

    # -- steps (per replica)
    def train_step(self, real: tf.Tensor) -> dict[str, tf.Tensor]:
        average = tf.nn.compute_average_loss  # divides by the GLOBAL batch; the engine SUMs replicas
        noise = self.noise.normal([tf.shape(real)[0], self.gan.noise_dim])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(noise, training=True)
            real_logits, real_slopes = self._discriminate_real(real)
            fake_logits = self.discriminator(fake, training=True)
            g_loss = average(self.bce(tf.ones_like(fake_logits), fake_logits))
            d_loss = (average(self.bce(tf.ones_like(real_logits), real_logits))
                      + average(self.bce(tf.zeros_like(fake_logits), fake_logits)))
            logged = {}
            if real_slopes is not None:  # R1, as in the module docstring
                logged["r1_penalty"] = average(real_slopes)
                d_loss += 0.5 * self.gan.r1_gamma * logged["r1_penalty"]
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(g_loss, g_vars), g_vars)
        self.d_optimizer.apply(d_tape.gradient(d_loss, d_vars), d_vars)
        if self.gan.ema_decay > 0:
            self._update_average()
        self.d_accuracy.update_state(tf.ones_like(real_logits), real_logits)
        self.d_accuracy.update_state(tf.zeros_like(fake_logits), fake_logits)
        return {"g_loss": g_loss, "d_loss": d_loss, **logged}

    def _discriminate_real(self, real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """D's logits on real images and, with gan.r1_gamma, each image's squared gradient norm
        ||grad_x D(x)||^2 (the R1 penalty's term; None without it)."""
        if not self.gan.r1_gamma:
            return self.discriminator(real, training=True), None
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = self.discriminator(real, training=True)
        # One gradient of the batch's logits gives every image's own: the discriminator has no
        # BatchNorm, so each logit depends on its own image only.
        gradients = tape.gradient(logits, real)
        return logits, tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3])

    def _update_average(self) -> None:
        """average <- d * average + (1 - d) * weights, for every float variable (BatchNorm
        statistics too), with d = min(ema_decay, (1 + t) / (10 + t)) so early steps are not
        dominated by the random initial weights. Variables are mirrored across replicas, so the
        update runs once per variable in cross-replica context, as Keras' own optimizer EMA does.
        Not Keras' `Adam(use_ema=True)`: it averages trainable weights only (not BatchNorm's
        statistics) and keeps them inside the optimizer, where no model can evaluate them.
        """
        step = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.gan.ema_decay, (1.0 + step) / (10.0 + step))
        pairs = [(a.value, w.value)  # the tf.Variables under the Keras ones, as Keras' EMA does
                 for a, w in zip(self.sampler.variables, self.generator.variables, strict=True)
                 if "float" in a.dtype]

        def update(strategy):
            for average, weights in pairs:
                strategy.extended.update(
                    average, lambda a, w: a.assign(decay * a + (1.0 - decay) * w),
                    args=(weights,))

        tf.distribute.get_replica_context().merge_call(update)

    def eval_step(self, real: tf.Tensor) -> None:
        noise = self.eval_noise.normal([tf.shape(real)[0], self.gan.noise_dim])
        fake = self.sampler(noise, training=False)
        self.real_statistics.update_state(self.classifier.probabilities(real))
        self.generated_statistics.update_state(self.classifier.probabilities(fake))

    # -- metrics
    def train_metrics(self) -> list[keras.metrics.Metric]:
        return [self.d_accuracy]

    def reset_eval(self) -> None:
        if self.classifier is None:
            self._prepare_evaluation()
        self.eval_noise.reset_from_seed(self.seed + 1)  # the same noise at every evaluation
        self.real_statistics.reset_state()
        self.generated_statistics.reset_state()

    def _prepare_evaluation(self) -> None:
        """Load the classifier, and score the two fixed reference sets once per process."""
        with self.strategy.scope():  # they hold variables that eval_step uses per replica
            self.classifier = gan_metrics.load_classifier(self.gan.classifier, self.data_dir,
                                                          image_range=IMAGE_RANGE)
            self.eval_noise = tf.random.Generator.from_seed(self.seed + 1)
            self.real_statistics = gan_metrics.ClassifierStatistics(name="real")
            self.generated_statistics = gan_metrics.ClassifierStatistics(name="generated")
        count, batch = self.gan.metric_samples, self.config.eval.batch_size
        # The ceiling: real training images, scored like generated ones against the eval split.
        train_images = self._images(self.config.data.train_split, batch).unbatch().take(count)
        self.train_probs = self.classifier.probabilities_of(train_images.batch(batch))
        # The floor: the generator as it was before training.
        untrained = create_model(self.config.model.name, noise_dim=self.gan.noise_dim)["generator"]
        untrained.set_weights(self.initial_generator_weights)
        noise = tf.random.stateless_normal([count, self.gan.noise_dim], seed=[self.seed, 1])
        fakes = (untrained(noise[i:i + batch], training=False) for i in range(0, count, batch))
        self.untrained_probs = self.classifier.probabilities_of(fakes)

    def eval_results(self) -> dict[str, float]:
        real = self.real_statistics.moments()

        def distance(moments):
            return gan_metrics.frechet_distance_from_moments(*moments, *real)

        log_probs = gan_metrics.log_probabilities
        return {
            "mnist_score": self.generated_statistics.score(),
            "frechet_distance": distance(self.generated_statistics.moments()),
            "real_mnist_score": self.real_statistics.score(),
            "real_frechet_distance": distance(gan_metrics.moments(log_probs(self.train_probs))),
            "untrained_mnist_score": gan_metrics.mnist_score(self.untrained_probs),
            "untrained_frechet_distance": distance(
                gan_metrics.moments(log_probs(self.untrained_probs))),
        }

    def eval_info(self) -> dict[str, Any]:
        """What the figures were measured with, flat, for the eval JSON (after an evaluation)."""
        if self.classifier is None:
            return {}
        described = {f"classifier_{k}": v for k, v in self.classifier.description.items()}
        return {**described, "metric_images": int(self.generated_statistics.count.numpy()),
                "frechet_features": "the classifier's log-probabilities (logits - logsumexp)",
                "real_reference": "the eval split's images; real_* scores training images "
                                  "against them, untrained_* the generator at its initial "
                                  "weights"}

    # -- what other commands need
    def networks(self) -> dict[str, keras.Model]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def inference_model(self) -> keras.Model:
        return self.sampler

    # -- pictures (chief only)
    def fixed_noise(self, count: int | None = None, seed: int | None = None) -> tf.Tensor:
        """The same noise at every call: grids from one run are comparable over training."""
        count = count or self.gan.grid_size**2
        seed = self.seed if seed is None else seed
        return tf.random.stateless_normal([count, self.gan.noise_dim], seed=[seed, 0])

    def on_evaluate(self, step: int, run_dir: Path) -> None:
        images = self.sampler(self.fixed_noise(), training=False)
        path = Path(run_dir) / SAMPLES_DIR / f"step_{step:06d}.png"
        sample.write_grid(images.numpy(), path, columns=self.gan.grid_size)

    def on_train_end(self, run_dir: Path) -> None:
        frames = sorted((Path(run_dir) / SAMPLES_DIR).glob("step_*.png"))
        if frames:
            sample.write_gif(frames, Path(run_dir) / GIF_NAME)
        # The two losses on their own (the engine's curves.png holds every logged value).
        losses = [r for r in runs.read_metrics(run_dir) if r["phase"] == "train"]
        losses = [{k: v for k, v in r.items() if k not in ("steps_per_sec", "images_per_sec")}
                  for r in losses]
        plots.training_curves(losses, Path(run_dir) / LOSSES_NAME,
                              title=f"{self.config.name}: generator and discriminator losses")

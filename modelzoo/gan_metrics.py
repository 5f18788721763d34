"""The two standard MNIST GAN metrics of TF-GAN, computed on a classifier the zoo trains itself.

TF-GAN (tensorflow/gan `tensorflow_gan/examples/mnist/util.py`) scores MNIST GANs with a pretrained
classifier from TF-Hub. We have no download, so the classifier is a zoo run (`gan.classifier`), and
the formulas are the same:

- MNIST score = exp(E_x KL(p(y|x) ‖ p(y))): the Inception-score formula on the classifier's class
  probabilities. 1 when every image gets the same prediction; 10 (the number of classes) when each
  image is classified with certainty and the classes are balanced. Real MNIST scores about 9.9.
- Fréchet distance = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) between Gaussians fitted to the
  classifier's features of two image sets. As in TF-GAN the features are the classifier's 10 logits,
  so any zoo classifier works (a Keras subclassed model has no reachable penultimate layer). Values
  are comparable only between runs that use the same classifier checkpoint.

The formulas are NumPy in float64: the sets are small (about a thousand images), and float32 loses
the digits of the matrix square root when two sets are nearly equal. Evaluation runs per replica,
so `ClassifierStatistics` (a Keras metric) keeps only sums — count, Σp, Σ p·log p, Σf, Σ f·fᵀ —
which add up across batches and replicas; both metrics are exact functions of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from modelzoo import ui
from modelzoo.errors import TrainingError, UsageError

PROB_FLOOR = 1e-30  # log(0) guard for probabilities that underflowed in float32


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits [n, classes], computed stably in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def mnist_score(probs: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) over class probabilities [n, classes]; in [1, classes]."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"probs must be a non-empty [n, classes] array, got shape {probs.shape}")
    marginal = probs.mean(axis=0)
    # 0 · log 0 = 0: a one-hot row contributes only through its single non-zero class.
    safe = np.where(probs > 0, probs, 1.0)
    kl = np.sum(probs * (np.log(safe) - np.log(np.where(marginal > 0, marginal, 1.0))), axis=1)
    return float(np.exp(kl.mean()))


def moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [d] and covariance [d, d] (unbiased, as TF-GAN) of features [n, d]."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be an [n >= 2, d] array, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance_from_moments(mean_a, cov_a, mean_b, cov_b) -> float:
    """‖μ_a − μ_b‖² + Tr(Σ_a) + Tr(Σ_b) − 2 Tr((Σ_a Σ_b)^½) for two Gaussians."""
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.atleast_2d(cov_a).astype(np.float64), np.atleast_2d(cov_b).astype(np.float64)
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * _trace_sqrt_product(cov_a, cov_b))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets [n, d] and [m, d]."""
    return frechet_distance_from_moments(*moments(features_a), *moments(features_b))


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Tr((Σ_a Σ_b)^½) without a general matrix square root (TF-GAN's `trace_sqrt_product`).

    Σ_a Σ_b is similar to S Σ_b S with S = Σ_a^½, which is symmetric positive semi-definite, so
    the trace of its square root is the sum of the square roots of its eigenvalues; symmetric
    eigen-solvers stay exact where SciPy's `sqrtm` of the non-symmetric product can go complex.
    """
    sqrt_a = _sqrt_psd(cov_a)
    inner = sqrt_a @ cov_b @ sqrt_a
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (round-off clipped at 0)."""
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def mnist_score_from_sums(count, prob_sum, plogp_sum) -> float:
    """The MNIST score from Σ_x p(y|x), Σ_x Σ_y p log p and the image count.

    E_x KL(p(y|x) ‖ p(y)) = E_x Σ_y p log p − Σ_y p(y) log p(y), with p(y) = Σ_x p(y|x) / n.
    """
    marginal = np.asarray(prob_sum, np.float64) / count
    safe = np.where(marginal > 0, marginal, 1.0)
    return float(np.exp(float(plogp_sum) / count - np.sum(marginal * np.log(safe))))


def moments_from_sums(count, feature_sum, outer_sum) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance from Σf, Σ f·fᵀ and the count (as `moments`)."""
    mean = np.asarray(feature_sum, np.float64) / count
    cov = (np.asarray(outer_sum, np.float64) - count * np.outer(mean, mean)) / (count - 1)
    return mean, cov


def log_probabilities(probs: np.ndarray) -> np.ndarray:
    """The Fréchet features: log p(y|x), i.e. the logits normalised so that logsumexp = 0.

    Zoo classifiers end in a softmax, and logits are defined only up to a per-image constant
    anyway; the floor keeps a float32 softmax that underflowed to 0 finite.
    """
    return np.log(np.maximum(np.asarray(probs, np.float64), PROB_FLOOR))


class ClassifierStatistics(keras.metrics.Metric):
    """Running sums of a classifier's outputs on one image set, for both GAN metrics.

    `update_state(probs)` takes class probabilities [batch, classes]; the Fréchet features are
    their logs (`log_probabilities`). The variables are float64 sums, which Keras adds up over
    replicas. Read the figures with `score()` and `moments()`, outside `tf.function`.
    """

    def __init__(self, num_classes: int = 10, name: str = "classifier_statistics"):
        super().__init__(name=name, dtype="float64")
        self.num_classes = num_classes
        add = lambda shape, n: self.add_variable(shape, "zeros", "float64", name=n)  # noqa: E731
        self.count = add((), "count")
        self.prob_sum = add((num_classes,), "prob_sum")
        self.plogp_sum = add((), "plogp_sum")
        self.feature_sum = add((num_classes,), "feature_sum")
        self.outer_sum = add((num_classes, num_classes), "outer_sum")

    def update_state(self, probs, sample_weight=None):
        import tensorflow as tf

        probs = tf.cast(probs, tf.float64)
        features = tf.math.log(tf.maximum(probs, PROB_FLOOR))  # as log_probabilities()
        self.count.assign_add(tf.cast(tf.shape(probs)[0], tf.float64))
        self.prob_sum.assign_add(tf.reduce_sum(probs, axis=0))
        self.plogp_sum.assign_add(tf.reduce_sum(probs * features))  # p·log p; 0 where p = 0
        self.feature_sum.assign_add(tf.reduce_sum(features, axis=0))
        self.outer_sum.assign_add(tf.matmul(features, features, transpose_a=True))

    def reset_state(self):
        for variable in self.variables:
            variable.assign(keras.ops.zeros_like(variable))

    def result(self):
        return self.count  # Keras wants one tensor; the figures come from score() and moments()

    def score(self) -> float:
        return mnist_score_from_sums(*self._sums("count", "prob_sum", "plogp_sum"))

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        return moments_from_sums(*self._sums("count", "feature_sum", "outer_sum"))

    def _sums(self, *names):
        return [keras.ops.convert_to_numpy(getattr(self, name)) for name in names]


# --------------------------------------------------------------------------- the classifier


@dataclass
class Classifier:
    """A trained zoo classifier, fed generator-range images: `probabilities(images)` [n, classes].

    Images in `image_range` (the generator's [-1, 1]) are mapped to the classifier's own value
    range, size and channels, as its config's data section describes them.
    """

    model: keras.Model
    value_range: tuple[float, float]
    image_size: tuple[int, int]
    channels: int
    image_range: tuple[float, float]
    description: dict[str, Any]

    def probabilities(self, images):
        """Class probabilities of a batch of images (inside or outside `tf.function`)."""
        import tensorflow as tf

        (src_low, src_high), (low, high) = self.image_range, self.value_range
        x = (tf.cast(images, tf.float32) - src_low) / (src_high - src_low) * (high - low) + low
        if tuple(x.shape[1:3]) != self.image_size:
            x = tf.image.resize(x, self.image_size, method="bilinear")
        if x.shape[-1] != self.channels:
            x = tf.tile(x, [1, 1, 1, 3]) if self.channels == 3 else tf.image.rgb_to_grayscale(x)
        return self.model(x, training=False)

    def probabilities_of(self, batches) -> np.ndarray:
        """Probabilities of every image of an iterable of batches, as one [n, classes] array."""
        import tensorflow as tf

        predict = tf.function(self.probabilities, reduce_retracing=True)
        return np.concatenate([predict(batch).numpy() for batch in batches])


def load_classifier(spec: str, data_dir: Path, *, image_range=(-1.0, 1.0)) -> Classifier:
    """The classifier named by `gan.classifier`: a run dir, or a config whose newest run is used.

    Its best checkpoint is restored (else the newest) through the engine, in the current
    distribution strategy's scope. A config with no trained run, or whose newest run no longer
    restores (written by an older checkpoint format), is trained first (`modelzoo train NAME`),
    once; later evaluations reuse that run.
    """
    run_dir = classifier_run_dir(spec, data_dir)
    try:
        return _restore_classifier(run_dir, data_dir, image_range)
    except UsageError as exc:
        if _is_run_dir(spec):
            raise
        ui.warn(f"GAN metrics: the newest {spec!r} run ({run_dir}) does not restore "
                f"({exc.message.splitlines()[0][:120]}...); training a new one.")
    _train_classifier(spec, data_dir)
    return _restore_classifier(classifier_run_dir(spec, data_dir), data_dir, image_range)


def _restore_classifier(run_dir: Path, data_dir: Path, image_range) -> Classifier:
    import tensorflow as tf

    from modelzoo import devices
    from modelzoo.engine import BEST, CHECKPOINTS
    from modelzoo.evaluate import open_session

    best = tf.train.latest_checkpoint(str(run_dir / CHECKPOINTS / BEST))
    placement = devices.Placement(strategy=tf.distribute.get_strategy(),
                                  description="classifier for the GAN metrics")
    session = open_session(run_dir, "best" if best else "latest", data_dir, placement=placement)
    cfg, recipe, checkpoint = session.config, session.recipe, session.checkpoint
    best_file = run_dir / CHECKPOINTS / BEST / "best.json"
    description = {"config": cfg.name, "model": cfg.model.name, "run_dir": str(run_dir),
                   "seed": cfg.train.seed, "checkpoint": checkpoint, "step": session.step}
    if best and best_file.is_file():
        record = json.loads(best_file.read_text())
        description[f"{record['split']}_{record['monitor']}"] = record["value"]
    ui.info(f"GAN metrics: classifier {cfg.name} ({cfg.model.name}) from {checkpoint}")
    return Classifier(model=recipe.inference_model(),
                      value_range=tuple(float(v) for v in cfg.data.value_range),
                      image_size=tuple(cfg.data.image_size), channels=cfg.data.channels,
                      image_range=tuple(image_range), description=description)


def _is_run_dir(spec: str) -> bool:
    from modelzoo import runs

    return (Path(spec).expanduser() / runs.CONFIG_FILE).is_file()


def classifier_run_dir(spec: str, data_dir: Path) -> Path:
    """A run dir as given, else the newest trained run of config `spec`, else a new one."""
    from modelzoo import runs

    given = Path(spec).expanduser()
    if _is_run_dir(spec):
        if not runs.has_checkpoints(given):
            raise UsageError(f"gan.classifier {spec} is a run dir without checkpoints.",
                             fix=f"modelzoo train {runs.read_config(given).name} --run-dir {spec}")
        return given
    trained = _newest_trained_run(spec)
    if trained is None:
        _train_classifier(spec, data_dir)
        trained = _newest_trained_run(spec)
    if trained is None:
        raise UsageError(f"Training classifier {spec!r} for the GAN metrics left no checkpoint "
                         f"under {runs.RUNS_ROOT / spec}.", fix=f"modelzoo train {spec}")
    return trained


def _newest_trained_run(config_name: str) -> Path | None:
    from modelzoo import runs

    done = [p for p in (runs.RUNS_ROOT / config_name).glob("*") if runs.has_checkpoints(p)]
    return max(done, key=lambda p: p.stat().st_mtime) if done else None


def _train_classifier(config_name: str, data_dir: Path) -> None:
    """`modelzoo train NAME` in a child process: its devices, seed and precision stay its own."""
    from modelzoo import config

    config.resolve(config_name)  # an unknown name fails here, with suggestions
    command = [sys.executable, "-m", "modelzoo", "train", config_name,
               "--data-dir", str(data_dir)]
    ui.info(f"GAN metrics: no trained {config_name!r} run under runs/; training one: "
            f"{' '.join(command[2:])}")
    if subprocess.run(command).returncode != 0:
        raise TrainingError(f"Training the classifier {config_name!r} for the GAN metrics failed.",
                            fix=f"modelzoo train {config_name}   (then evaluate again)")

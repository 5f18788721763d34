"""Domain-adaptation losses of Domain Separation Networks, as tensorflow/models coded them.

Pure TensorFlow functions of tensors, one per loss, so each can be tested against numbers
worked out by hand (tests/test_losses.py). Where Keras has the loss (cross-entropy, MSE) we use
it. References are to `research/domain_adaptation/domain_separation/{losses,utils}.py` and
TF1 contrib's `mean_pairwise_squared_error`.

Per-example losses are returned unreduced, so the recipe can average them over the *global*
batch (`tf.nn.compute_average_loss`); batch-level losses (difference, MMD) are one scalar per
replica batch, which the recipe passes through `tf.nn.scale_regularization_loss`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# The 19 RBF kernel widths of utils.py's MMD, used with exp(-d / (2 sigma)) (sigma, not sigma^2).
MMD_SIGMAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0,
              100.0, 1e3, 1e4, 1e5, 1e6)
MMD_FLOOR = 1e-4  # mmd_loss returns max(1e-4, MMD^2): a floor with no gradient (tf/models#6625)

SOURCE_DOMAIN, TARGET_DOMAIN = 0.0, 1.0  # dann_loss's labels


@tf.custom_gradient
def gradient_reversal(x):
    """Identity forward; the gradient is negated backward (grl_ops, with no lambda factor)."""

    def grad(upstream):
        return tf.negative(upstream)

    return tf.identity(x), grad


def difference_loss(private, shared):
    """Soft subspace orthogonality between private and shared codes of one domain.

    As coded: centre each code by its batch mean, L2-normalise every row, then the mean of the
    squared entries of the (d x d) correlation matrix privateᵀ·shared, clipped at zero. (The
    paper's squared Frobenius norm is neither normalised nor averaged.) Zero when the two codes
    span orthogonal subspaces.
    """
    private = tf.math.l2_normalize(private - tf.reduce_mean(private, 0), axis=1)
    shared = tf.math.l2_normalize(shared - tf.reduce_mean(shared, 0), axis=1)
    correlation = tf.matmul(private, shared, transpose_a=True)
    return tf.maximum(tf.reduce_mean(tf.square(correlation)), 0.0)


def gaussian_kernel_matrix(x, y, sigmas=MMD_SIGMAS):
    """sum_i exp(-||x_a - y_b||² / (2 sigma_i)) for every pair (a, b): an (n, m) matrix."""
    sq_distances = tf.reduce_sum(tf.square(x[:, None, :] - y[None, :, :]), axis=-1)
    betas = 1.0 / (2.0 * tf.constant(sigmas, dtype=x.dtype))
    return tf.reduce_sum(tf.exp(-betas[:, None, None] * sq_distances[None]), axis=0)


def mmd_loss(source, target, sigmas=MMD_SIGMAS):
    """Biased multi-kernel MMD² between two batches of codes, clipped and floored as coded."""
    mmd = (tf.reduce_mean(gaussian_kernel_matrix(source, source, sigmas))
           + tf.reduce_mean(gaussian_kernel_matrix(target, target, sigmas))
           - 2.0 * tf.reduce_mean(gaussian_kernel_matrix(source, target, sigmas)))
    return tf.maximum(tf.maximum(mmd, 0.0), MMD_FLOOR)


def domain_labels(source_count, target_count):
    """dann_loss's labels for [source; target] codes: source 0, target 1, shape (n, 1)."""
    return tf.concat([tf.fill([source_count, 1], SOURCE_DOMAIN),
                      tf.fill([target_count, 1], TARGET_DOMAIN)], axis=0)


def dann_loss(domain_logits, labels):
    """Per-example binary cross-entropy of the domain classifier (mean it over both domains).

    The gradient reversal sits *before* the classifier (see `gradient_reversal`), so minimising
    this trains the classifier and, reversed, makes the shared codes domain-invariant.
    """
    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)
    return bce(labels, domain_logits)


def scale_invariant_mse(images, reconstructions):
    """Per-example scale-invariant MSE as coded (TF1 contrib `mean_pairwise_squared_error`).

    With d = x̂ - x over k = H·W·C values: 2·Σd²/k - 2·(Σd)²/k², twice the paper's
    (1/k)‖d‖² - (1/k²)(d·1)². A constant shift of the reconstruction costs nothing. The original
    *sums* these over the batch; the recipe does the same.
    """
    diff = tf.reshape(reconstructions - images, [tf.shape(images)[0], -1])
    k = tf.cast(tf.shape(diff)[1], diff.dtype)
    return 2.0 * tf.reduce_sum(tf.square(diff), 1) / k - 2.0 * tf.square(tf.reduce_sum(diff, 1)) / k**2


def mse(images, reconstructions):
    """Per-example plain MSE (contrib `mean_squared_error`, the paper's ablation); average it."""
    flat = lambda t: tf.reshape(t, [tf.shape(t)[0], -1])  # noqa: E731
    return keras.losses.MeanSquaredError(reduction=None)(flat(images), flat(reconstructions))

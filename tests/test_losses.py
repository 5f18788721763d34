"""The DSN losses against values worked out by hand."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from modelzoo import losses  # noqa: E402


def test_gradient_reversal_is_identity_forward_and_negates_gradients():
    x = tf.constant([[1.0, -2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = losses.gradient_reversal(x)
        loss = tf.reduce_sum(y * tf.constant([[2.0, 3.0, 4.0]]))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [[-2.0, -3.0, -4.0]])


def test_difference_loss_is_zero_for_orthogonal_codes():
    # The loss looks at privateᵀ·shared over the batch: it vanishes when every private feature
    # is uncorrelated with every shared one. Two orthogonal, zero-mean sign patterns over four
    # samples, times any two code directions, give exactly that.
    rng = np.random.default_rng(0)
    pattern_p, pattern_s = np.array([1, -1, 1, -1.0]), np.array([1, 1, -1, -1.0])
    private = np.outer(pattern_p, rng.normal(size=6)).astype(np.float32)
    shared = np.outer(pattern_s, rng.normal(size=6)).astype(np.float32)
    assert losses.difference_loss(private, shared).numpy() == pytest.approx(0.0, abs=1e-7)
    # ...and it is not zero when the same pattern drives both.
    assert losses.difference_loss(private, private).numpy() > 0.01


def test_difference_loss_hand_computed():
    # Two samples, 1-d codes: centred rows are ±1 and stay ±1 after normalising; with private
    # = shared the 1x1 correlation is 1 + 1 = 2, so mean(M²) = 4. Anti-correlated: (-2)² = 4.
    private = tf.constant([[3.0], [1.0]])
    assert losses.difference_loss(private, private).numpy() == pytest.approx(4.0)
    assert losses.difference_loss(private, -private).numpy() == pytest.approx(4.0)


def test_mmd_is_floored_for_identical_distributions_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    codes = tf.constant(rng.normal(size=(16, 5)), tf.float32)
    assert losses.mmd_loss(codes, codes).numpy() == pytest.approx(losses.MMD_FLOOR)
    assert losses.mmd_loss(codes, codes + 3.0).numpy() > 0.1


def test_mmd_hand_computed_single_points():
    # One point per domain at squared distance 2: each kernel is 19 terms; MMD² =
    # K(x,x) + K(y,y) - 2 K(x,y) = 2 * (19 - sum_i exp(-2 / (2 sigma_i))).
    sigmas = np.array(losses.MMD_SIGMAS)
    expected = 2 * (19 - np.exp(-1.0 / sigmas).sum())
    x, y = tf.constant([[0.0, 0.0]]), tf.constant([[1.0, 1.0]])
    assert losses.mmd_loss(x, y).numpy() == pytest.approx(expected, rel=1e-5)


def test_scale_invariant_mse_ignores_a_constant_shift():
    rng = np.random.default_rng(2)
    images = tf.constant(rng.uniform(-1, 1, size=(3, 4, 4, 3)), tf.float32)
    shifted = losses.scale_invariant_mse(images, images + 0.7).numpy()
    np.testing.assert_allclose(shifted, 0.0, atol=1e-6)
    assert (losses.mse(images, images + 0.7).numpy() == pytest.approx(0.49, rel=1e-5))


def test_scale_invariant_mse_hand_computed():
    # d = [1, 0, 0, 0] (k = 4): 2·1/4 - 2·1²/16 = 0.375 (twice the paper's 1/4 - 1/16).
    images = tf.zeros((1, 2, 2, 1))
    recon = tf.constant([[[[1.0], [0.0]], [[0.0], [0.0]]]])
    assert losses.scale_invariant_mse(images, recon).numpy()[0] == pytest.approx(0.375)


def test_dann_loss_labels_and_value():
    labels = losses.domain_labels(2, 1)
    np.testing.assert_array_equal(labels.numpy().ravel(), [0.0, 0.0, 1.0])
    # Logit 0 is probability 1/2 for either domain: ln 2 each.
    per_example = losses.dann_loss(tf.zeros((3, 1)), labels).numpy()
    np.testing.assert_allclose(per_example, np.log(2.0), rtol=1e-6)

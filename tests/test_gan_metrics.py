"""The TF-GAN MNIST metric formulas on inputs whose answers are known in closed form."""

import numpy as np
import pytest

from modelzoo import gan_metrics


def test_perfect_classifier_on_balanced_set_scores_the_number_of_classes():
    one_hot = np.eye(10)[np.repeat(np.arange(10), 7)]  # 70 certain predictions, 7 per class
    assert gan_metrics.mnist_score(one_hot) == pytest.approx(10.0)


def test_constant_output_scores_one():
    probs = np.tile([0.05, 0.5, 0.05, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025], (40, 1))
    assert gan_metrics.mnist_score(probs) == pytest.approx(1.0)


def test_certain_but_collapsed_generator_scores_the_number_of_modes():
    # Every image confidently a 3 or a 7, half and half: exp(KL) = 2.
    probs = np.eye(10)[[3, 7] * 25]
    assert gan_metrics.mnist_score(probs) == pytest.approx(2.0)


def test_score_from_logits_via_softmax():
    logits = 50.0 * np.eye(10)[np.arange(100) % 10]
    assert gan_metrics.mnist_score(gan_metrics.softmax(logits)) == pytest.approx(10.0, rel=1e-6)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 10)) @ np.diag(np.arange(1, 11))
    assert gan_metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_gaussian_moments_matches_closed_form():
    # For diagonal covariances, FD = ‖μa − μb‖² + Σ_i (σa_i − σb_i)².
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    std_a, std_b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((std_a - std_b) ** 2)
    got = gan_metrics.frechet_distance_from_moments(mean_a, np.diag(std_a**2),
                                                    mean_b, np.diag(std_b**2))
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_sampled_gaussians_approaches_closed_form():
    # Covariances R·diag(σ²)·Rᵀ share the rotation R, so the closed form above still holds,
    # though neither matrix is diagonal. 200k samples estimate it to well under 1 %.
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    mean_a, mean_b = np.array([0.0, 0.0, 1.0, 2.0]), np.array([1.0, -1.0, 1.0, 0.0])
    std_a, std_b = np.array([1.0, 2.0, 3.0, 0.5]), np.array([2.0, 2.0, 1.0, 1.0])
    a = mean_a + (rng.normal(size=(200_000, 4)) * std_a) @ rotation.T
    b = mean_b + (rng.normal(size=(200_000, 4)) * std_b) @ rotation.T
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((std_a - std_b) ** 2)  # = 15.25
    assert gan_metrics.frechet_distance(a, b) == pytest.approx(expected, rel=0.01)


def test_frechet_distance_is_symmetric():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 5)), rng.normal(2.0, 3.0, size=(200, 5))
    assert gan_metrics.frechet_distance(a, b) == pytest.approx(gan_metrics.frechet_distance(b, a))


def test_bad_shapes_are_rejected_with_the_shape():
    with pytest.raises(ValueError, match="shape"):
        gan_metrics.mnist_score(np.ones(10))
    with pytest.raises(ValueError, match="shape"):
        gan_metrics.frechet_distance(np.ones((1, 3)), np.ones((5, 3)))


def test_streaming_statistics_match_the_batch_formulas():
    rng = np.random.default_rng(3)
    probs = gan_metrics.softmax(rng.normal(0.0, 4.0, size=(300, 10))).astype(np.float32)
    other = gan_metrics.softmax(rng.normal(1.0, 2.0, size=(200, 10))).astype(np.float32)
    stats, other_stats = gan_metrics.ClassifierStatistics(), gan_metrics.ClassifierStatistics()
    for batch in np.array_split(probs, 4):  # uneven batches, as at the end of a dataset
        stats.update_state(batch)
    other_stats.update_state(other)
    features = np.log(probs.astype(np.float64))
    assert stats.score() == pytest.approx(gan_metrics.mnist_score(probs), rel=1e-9)
    mean, cov = stats.moments()
    np.testing.assert_allclose(mean, features.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(cov, np.cov(features, rowvar=False), rtol=1e-7, atol=1e-9)
    expected = gan_metrics.frechet_distance(features, np.log(other.astype(np.float64)))
    got = gan_metrics.frechet_distance_from_moments(*stats.moments(), *other_stats.moments())
    assert got == pytest.approx(expected, rel=1e-7)
    stats.reset_state()
    assert float(stats.count.numpy()) == 0.0


def test_statistics_keep_one_hot_outputs_finite():
    stats = gan_metrics.ClassifierStatistics()
    stats.update_state(np.eye(10, dtype=np.float32)[np.arange(50) % 10])
    assert stats.score() == pytest.approx(10.0)
    assert np.all(np.isfinite(stats.moments()[1]))

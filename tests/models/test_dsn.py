"""DSN networks: shapes, and parameter counts against the reference's arithmetic."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from modelzoo.registry import create_model  # noqa: E402

# Trainable parameters of tensorflow/models' dann_mnist / default_encoder / small_decoder /
# dann domain classifier, computed in ../shared/reference/dsn_dcgan_shallownet.md §1.5. The
# pool2 classifier (not in the DSN code) is fc 100 -> 1 on 8·8·48 = 3,072 features.
EXPECTED_PARAMS = {"tower": 359_290, "source_encoder": 463_396, "target_encoder": 463_396,
                   "decoder": 35_823, "domain_classifier": 10_201,
                   "pool2_domain_classifier": 3_072 * 100 + 100 + 101}


@pytest.fixture(scope="module")
def nets():
    return create_model("dsn_mnist")


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameter_counts_match_the_reference(nets, name):
    assert _trainable(nets[name]) == EXPECTED_PARAMS[name]


def test_shapes(nets):
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    code, logits, features = nets["tower"](images)
    assert code.shape == (4, 100) and logits.shape == (4, 10) and features.shape == (4, 3072)
    private = nets["source_encoder"](images, training=True)
    assert private.shape == (4, 100)
    assert nets["decoder"](code + private, training=True).shape == (4, 32, 32, 3)
    assert nets["domain_classifier"](code).shape == (4, 1)
    assert nets["pool2_domain_classifier"](features).shape == (4, 1)


def test_weight_decay_is_l2_over_two_on_kernels_only(nets):
    tower = nets["tower"]
    expected = sum(1e-6 / 2 * float(np.sum(np.square(w.numpy())))
                   for w in tower.trainable_weights if "kernel" in w.path)
    assert float(sum(tower.losses)) == pytest.approx(expected, rel=1e-5)
    assert not nets["domain_classifier"].losses  # the original does not regularise it
    assert len(create_model("dsn_mnist", weight_decay=0.0)["tower"].losses) == 0


def test_centred_tower_ignores_a_per_channel_colour_shift():
    """center_inputs subtracts each image's per-channel mean inside the tower, so a uniform
    colour cast (MNIST-M's backgrounds differ mostly so) does not change the code or logits."""
    tower = create_model("dsn_mnist", center_inputs=True)["tower"]
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    shifted = images + np.array([0.3, -0.2, 0.1], "float32")
    for plain, moved in zip(tower(images), tower(shifted), strict=True):
        np.testing.assert_allclose(plain.numpy(), moved.numpy(), rtol=1e-4, atol=1e-5)
    uncentred = create_model("dsn_mnist")["tower"]
    uncentred.set_weights(tower.get_weights())  # same weights: only the centring differs
    assert not np.allclose(uncentred(images)[1].numpy(), uncentred(shifted)[1].numpy(), atol=1e-3)

"""build_optimizer: the optimizer and schedule an `optimizer:` config section describes."""

from __future__ import annotations

import keras
import pytest

from modelzoo.config import OptimizerConfig
from modelzoo.optim import build_optimizer, learning_rate


def test_inverse_time_reproduces_the_legacy_sgd_decay():
    cfg = OptimizerConfig(name="sgd", learning_rate=0.01, momentum=0.9, schedule="inverse_time",
                          decay_steps=1, decay_rate=0.01 / 60)
    optimizer = build_optimizer(cfg)
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.momentum == 0.9
    assert float(learning_rate(cfg)(390)) == pytest.approx(0.01 / (1 + 390 * 0.01 / 60))


def test_exponential_staircase_like_the_dsn_code():
    schedule = learning_rate(OptimizerConfig(learning_rate=0.01, schedule="exponential",
                                             decay_steps=20000, decay_rate=0.95, staircase=True))
    assert float(schedule(19999)) == pytest.approx(0.01)
    assert float(schedule(20000)) == pytest.approx(0.0095)


def test_adam_constant_rate_and_loss_scaling():
    cfg = OptimizerConfig(name="adam", learning_rate=2e-4, beta_1=0.5, beta_2=0.99)
    adam = build_optimizer(cfg)
    assert isinstance(adam, keras.optimizers.Adam)
    assert (adam.beta_1, adam.beta_2) == (0.5, 0.99)
    assert learning_rate(cfg) == 2e-4
    scaled = build_optimizer(cfg, loss_scale=True)
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)

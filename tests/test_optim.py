"""build_optimizer: the optimizer and schedule an `optimizer:` config section describes."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from modelzoo.config import OptimizerConfig
from modelzoo.optim import build_optimizer, clip_global_norm, learning_rate


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


def test_clip_global_norm_on_one_device():
    clipped = clip_global_norm([np.array([6.0, 0.0], "float32"), np.array([8.0], "float32")], 5.0)
    np.testing.assert_allclose([c.numpy() for c in clipped][0], [3.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(clipped[1].numpy(), [4.0], rtol=1e-6)
    small = clip_global_norm([np.array([0.3, 0.4], "float32")], 5.0)
    np.testing.assert_allclose(small[0].numpy(), [0.3, 0.4], rtol=1e-6)  # under the cap: kept


# Two replicas hold the shares (3, 4) and (6, 8): their sum (9, 12) has norm 15. Clipped to 5,
# the update must be (3, 4). Keras' global_clipnorm clips each share first and lets (6, 8) through.
TWO_REPLICAS = """
import tensorflow as tf
from modelzoo.optim import clip_global_norm
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

def step():
    context = tf.distribute.get_replica_context()
    share = tf.constant([3.0, 4.0]) * tf.cast(context.replica_id_in_sync_group + 1, tf.float32)
    clipped = clip_global_norm([share], 5.0)
    return context.all_reduce(tf.distribute.ReduceOp.SUM, clipped[0])

update = strategy.experimental_local_results(tf.function(lambda: strategy.run(step))())[0]
print(update.numpy().tolist())
"""


def test_clip_global_norm_clips_the_sum_over_replicas():
    result = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    update = [float(v) for v in result.stdout.strip().splitlines()[-1].strip("[]").split(",")]
    np.testing.assert_allclose(update, [3.0, 4.0], rtol=1e-5)

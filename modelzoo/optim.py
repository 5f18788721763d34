"""Keras optimisers and learning-rate schedules from an `OptimizerConfig`.

Every recipe builds its optimisers here, so `optimizer:` sections mean the same thing everywhere:

    from modelzoo.optim import build_optimizer
    optimizer = build_optimizer(config.train.optimizer)     # e.g. SGD(momentum=0.9) + InverseTimeDecay

Schedules count optimizer steps (`optimizer.iterations`), like the legacy Keras `decay=` argument:
`inverse_time` with decay_steps=1, decay_rate=1e-2/60 is PyImageSearch's `SGD(decay=1e-2/60)`, and
`exponential` with decay_steps=20000, decay_rate=0.95, staircase=true is the DSN code's schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

    from modelzoo.config import OptimizerConfig


def learning_rate(cfg: "OptimizerConfig"):
    """A float, or a `keras.optimizers.schedules.LearningRateSchedule`."""
    import keras

    schedules = keras.optimizers.schedules
    if cfg.schedule == "none":
        return cfg.learning_rate
    if cfg.schedule == "exponential":
        return schedules.ExponentialDecay(cfg.learning_rate, decay_steps=cfg.decay_steps,
                                          decay_rate=cfg.decay_rate, staircase=cfg.staircase)
    return schedules.InverseTimeDecay(cfg.learning_rate, decay_steps=cfg.decay_steps,
                                      decay_rate=cfg.decay_rate, staircase=cfg.staircase)


def build_optimizer(cfg: "OptimizerConfig", *, loss_scale: bool = False) -> "keras.optimizers.Optimizer":
    """The configured optimizer (not yet built: call `optimizer.build(variables)` in scope).

    `loss_scale=True` wraps it in a `LossScaleOptimizer`, which a recipe needs under the
    `mixed_float16` policy (`modelzoo.optim.needs_loss_scale()` says whether it is active).
    """
    import keras

    rate = learning_rate(cfg)
    if cfg.name == "sgd":
        optimizer = keras.optimizers.SGD(rate, momentum=cfg.momentum)
    else:
        optimizer = keras.optimizers.Adam(rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scale else optimizer


def clip_global_norm(gradients: list, clip_norm: float) -> list:
    """`gradients` rescaled so that the gradient *summed over replicas* has L2 norm <= clip_norm.

    Call it in replica context, then pass the result to `optimizer.apply`. Keras' own
    `global_clipnorm` clips each replica's share before its all-reduce, so under N replicas
    the update it lets through can reach N times the norm asked for. Here the shares are summed
    first, clipped, and handed back as 1/N each, which the optimizer's all-reduce sums back.
    """
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context else 1
    if replicas > 1:
        gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    clipped, _ = tf.clip_by_global_norm(gradients, clip_norm)
    return [g / replicas for g in clipped] if replicas > 1 else clipped


def needs_loss_scale() -> bool:
    """True under the `mixed_float16` policy, where small float16 gradients would underflow."""
    import keras

    return keras.mixed_precision.global_policy().name == "mixed_float16"

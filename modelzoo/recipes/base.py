"""The contract between a recipe (the algorithm) and the engine (the loop).

A recipe owns its Keras models, optimisers and metrics, and says what one training or evaluation
step does on one replica's batch. The engine owns everything around that — the strategy, the
distributed datasets, the `tf.function` around `strategy.run`, checkpoints, summaries, progress,
evaluation cadence and resume — once, for every recipe.

Lifecycle, as the engine drives it:

    recipe = RecipeClass(config, data_dir)
    with strategy.scope():
        trackables = recipe.build(strategy)          # models, optimisers, generators to checkpoint
    train = recipe.train_dataset(global_batch, seed) # repeated, batched by the global batch
    per step:  strategy.run(recipe.train_step, (batch,))  -> dict of per-replica loss shares (SUMmed)
               recipe.train_metrics()                -> Keras metrics to log, reset every log line
    evaluation: recipe.reset_eval(); for batch in recipe.eval_dataset(split, batch):
                    strategy.run(recipe.eval_step, (batch,)); then recipe.eval_results()
    hooks:     recipe.on_evaluate(step, run_dir) after each periodic evaluation,
               recipe.on_train_end(run_dir) once, at the end (pictures, GIFs)

Details the engine relies on (modelzoo/engine.py):
- `build` returns what to checkpoint. Keras layers/models in it are saved as ALL their variables
  (weights, BatchNorm statistics, seed states) keyed by position (Keras 3 keeps sub-layers in
  lists that `tf.train.Checkpoint` does not follow, so BatchNorm statistics would otherwise be
  lost); other values (optimisers, `tf.random.Generator`) are saved as they are. The engine
  adds the int64 `step` itself. Return every network, or its non-trainable state is not saved.
- Optimisers come from `modelzoo.optim.build_optimizer(cfg.train.optimizer)` (or another
  `OptimizerConfig`); call `optimizer.build(variables)` inside `build`, before the first step.
- `train_step` may run inside a `tf.range` loop of several steps per call; return the same keys
  every step. `train_metrics()` are read and reset at each log line, on every worker.
- Reading a metric sums it over replicas, a collective op under multi-worker: read distributed
  state in `eval_results` (every worker calls it), never only in the chief-only hooks.
- `on_evaluate(step, out_dir)` also runs after `modelzoo eval`, with the folder of `--json`
  (else the run dir) as `out_dir`: write pictures there (the classifier's confusion matrix).
- The training data must be deterministic for a given seed: on resume the engine skips the
  batches already consumed (`dataset.skip(step)`) instead of checkpointing the iterator.

Losses returned by `train_step` must already be divided by the GLOBAL batch
(`tf.nn.compute_average_loss` over `keras.losses.X(reduction=None)` values; batch-level terms go
through `tf.nn.scale_regularization_loss`), so the engine's SUM over replicas is the true mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # TensorFlow is imported by concrete recipes, never by this contract
    import keras
    import tensorflow as tf

    from modelzoo.config import ExperimentConfig


class Recipe:
    """Base class: subclasses implement the methods that raise NotImplementedError."""

    def __init__(self, config: "ExperimentConfig", data_dir: Path):
        self.config = config
        self.data_dir = Path(data_dir)

    # -- set-up, called once inside strategy.scope()
    def build(self, strategy: "tf.distribute.Strategy") -> dict[str, Any]:
        """Create models, optimisers (built, so they can be traced) and metrics.

        Returns the objects to checkpoint, by name (e.g. {"model": m, "optimizer": opt}).
        """
        raise NotImplementedError

    # -- data
    def pipeline(self, split: str, batch_size: int, dataset: str | None = None,
                 **options: Any) -> "tf.data.Dataset":
        """`split` of `dataset` (default `data.dataset`) with images converted as `config.data`
        asks (size, channels, value range); `options` go to `modelzoo.data.pipeline`."""
        from modelzoo.data import pipeline

        cfg = self.config.data
        return pipeline(dataset or cfg.dataset, split, self.data_dir, batch_size=batch_size,
                        image_size=tuple(cfg.image_size), channels=cfg.channels,
                        value_range=tuple(cfg.value_range), **options)

    def train_dataset(self, global_batch_size: int, seed: int) -> "tf.data.Dataset":
        """An infinite (repeated), shuffled dataset batched by the global batch, drop_remainder."""
        raise NotImplementedError

    def eval_dataset(self, split: str, global_batch_size: int) -> "tf.data.Dataset":
        """A finite dataset over `split`, each example exactly once."""
        raise NotImplementedError

    # -- steps, run per replica inside strategy.run
    def train_step(self, batch: Any) -> dict[str, "tf.Tensor"]:
        raise NotImplementedError

    def eval_step(self, batch: Any) -> None:
        """Update the recipe's evaluation metrics with one batch."""
        raise NotImplementedError

    # -- metrics
    def train_metrics(self) -> list["keras.metrics.Metric"]:
        """Running training metrics (e.g. accuracy); the engine logs and resets them."""
        return []

    def reset_eval(self) -> None:
        raise NotImplementedError

    def eval_results(self) -> dict[str, float]:
        """The evaluation metrics as plain floats; must include `config.eval.monitor`."""
        raise NotImplementedError

    def eval_info(self) -> dict[str, Any]:
        """Flat facts about the last evaluation for the eval JSON (e.g. which classifier
        scored a GAN's samples); called after `eval_results`."""
        return {}

    def images_per_step(self) -> int:
        """Images one global training step reads, for the images/s figure."""
        return self.config.train.batch_size

    # -- what other commands need
    def networks(self) -> dict[str, "keras.Model"]:
        """Every Keras network by name, for `modelzoo inspect` (summaries, parameter counts)."""
        raise NotImplementedError

    def inference_model(self) -> "keras.Model":
        """The network `modelzoo export` writes (a classifier, the generator, the DSN tower)."""
        raise NotImplementedError

    # -- hooks, called on the chief only
    def on_evaluate(self, step: int, run_dir: Path) -> None:
        pass

    def on_train_end(self, run_dir: Path) -> None:
        pass

"""The one training loop: every recipe, every `tf.distribute` strategy (Orbit-style, small).

TensorFlow's "custom training with tf.distribute" pattern: the recipe's replica-local `train_step`
runs inside `strategy.run`, in a `tf.function` that also pulls the batch from the distributed
iterator and loops `tf.range(n)` times, so Python is visited once per log/checkpoint/eval boundary
rather than once per step. Each per-replica loss share is SUM-reduced (recipes divide by the global
batch, see `modelzoo.recipes.base`).

    engine = Engine(recipe, placement, run_dir)     # builds the recipe, restores the newest checkpoint
    engine.train()                                  # to config.train.steps, then a final evaluation
    engine.evaluate("test")                         # {"accuracy": 0.97, ...}

Resume: the checkpoint holds an int64 step (ONLY_FIRST_REPLICA, since recipes may have several
optimisers) next to the recipe's models and optimisers. The data position is not saved (a
checkpointed shuffle buffer of CIFAR-10 would weigh ~600 MB); instead the training pipeline is
deterministic for a given seed, and the engine fast-forwards it with `skip(step)` batches.

Multi-worker: every worker runs the same loop (collectives need all of them); only the chief writes
the real run dir. Other workers write checkpoints to a temporary dir that is removed at the end.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelzoo import files, runs, ui
from modelzoo.errors import TrainingError, UsageError

if TYPE_CHECKING:
    from modelzoo.devices import Placement
    from modelzoo.recipes.base import Recipe

CHECKPOINTS = "checkpoints"
BEST = "best"


class Engine:
    def __init__(self, recipe: "Recipe", placement: "Placement", run_dir: Path, *,
                 eager: bool = False):
        import tensorflow as tf

        self.tf = tf
        self.recipe, self.placement = recipe, placement
        self.strategy = placement.strategy
        self.config = recipe.config
        self.run_dir = Path(run_dir)
        self.eager = eager
        self.is_chief = placement.is_chief
        # Non-chief workers must still save (saving is collective) but somewhere harmless.
        self.write_dir = self.run_dir if self.is_chief else Path(tempfile.mkdtemp(prefix="worker-"))
        with self.strategy.scope():
            trackables = recipe.build(self.strategy)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.checkpoint = tf.train.Checkpoint(step=self.step, **checkpointable(trackables))
        train = self.config.train
        self.checkpoints = tf.train.CheckpointManager(
            self.checkpoint, self.write_dir / CHECKPOINTS, max_to_keep=train.keep_checkpoints,
            checkpoint_name="ckpt")
        self.best = tf.train.CheckpointManager(
            self.checkpoint, self.write_dir / CHECKPOINTS / BEST, max_to_keep=1,
            checkpoint_name="best")
        self._train_loop = self._function(self._train_loop_body)
        self._eval_batch = self._function(self._eval_batch_body)
        self._stop_reason: str | None = None

    # ------------------------------------------------------------------ tracing

    def _function(self, body):
        return body if self.eager else self.tf.function(body, reduce_retracing=True)

    def _replica_train_step(self):
        step_fn = self.recipe.train_step
        if self.config.train.jit_compile and not self.eager:
            # XLA on the replica function only, as Keras `fit` does; strategy.run stays outside.
            step_fn = self.tf.function(step_fn, jit_compile=True)
        return step_fn

    def _train_loop_body(self, iterator, num_steps):
        tf, strategy = self.tf, self.strategy
        step_fn = self._cached_step_fn

        def one_step():
            losses = strategy.run(step_fn, args=(next(iterator),))
            self.step.assign_add(1)
            return {k: strategy.reduce("SUM", v, axis=None) for k, v in losses.items()}

        totals = one_step()
        for _ in tf.range(num_steps - 1):
            totals = {k: totals[k] + v for k, v in one_step().items()}
        return {k: v / tf.cast(num_steps, v.dtype) for k, v in totals.items()}

    def _eval_batch_body(self, batch):
        """One evaluation batch; returns how many examples it held (over all replicas)."""
        tf = self.tf

        def step(replica_batch):
            self.recipe.eval_step(replica_batch)
            return tf.shape(tf.nest.flatten(replica_batch)[0])[0]

        sizes = self.strategy.run(step, args=(batch,))
        return self.strategy.reduce("SUM", sizes, axis=None)

    # ------------------------------------------------------------------ checkpoints

    def restore(self, path: str | Path | None = None) -> int:
        """Restore `path`, or the newest checkpoint of the run dir; returns the restored step."""
        tf = self.tf
        if path is None:
            path = tf.train.latest_checkpoint(str(self.run_dir / CHECKPOINTS))
            if path is None:
                return 0
        try:
            self.checkpoint.restore(str(path)).assert_existing_objects_matched()
        except (tf.errors.NotFoundError, AssertionError, ValueError) as exc:
            raise UsageError(f"Cannot restore checkpoint {path}: {str(exc).splitlines()[0]}",
                             fix="pass a checkpoint written by this config "
                                 "(<run>/checkpoints/ckpt-N)") from None
        return int(self.step.numpy())

    def save(self) -> str:
        return self.checkpoints.save(checkpoint_number=int(self.step.numpy()))

    # ------------------------------------------------------------------ data

    def _distribute(self, dataset):
        tf = self.tf
        options = tf.data.Options()
        # DATA sharding keeps every global batch identical to the one-device run (same metrics),
        # and works whatever number of files the dataset has.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, split: str) -> dict[str, float]:
        """Run the recipe's eval_step over every example of `split` once."""
        self.recipe.reset_eval()
        dataset = self.recipe.eval_dataset(split, self.config.eval.batch_size)
        self.examples_evaluated = 0
        for batch in self._distribute(dataset):
            self.examples_evaluated += int(self._eval_batch(batch))
        return {k: float(v) for k, v in self.recipe.eval_results().items()}

    # ------------------------------------------------------------------ training

    def train(self) -> dict[str, Any]:
        """Train to `config.train.steps`; returns the final evaluation (plus `step`)."""
        cfg = self.config.train
        start = int(self.step.numpy())
        if start >= cfg.steps:
            ui.info(f"Already trained to step {start} (train.steps={cfg.steps}); evaluating only.")
        elif start:
            ui.info(f"Resuming at step {start} of {cfg.steps} from {self.run_dir / CHECKPOINTS}.")
        self._cached_step_fn = self._replica_train_step()
        dataset = self.recipe.train_dataset(cfg.batch_size, cfg.seed)
        iterator = iter(self._distribute(dataset.skip(start)))  # fast-forward to the saved position
        log = _Log(self, start) if self.is_chief else None
        old_handlers = self._catch_signals()
        try:
            with self._lost_worker_is_an_error():
                self._loop(iterator, start, log)
            if self._stop_reason:
                path = self.save()
                raise TrainingError(
                    f"Stopped by {self._stop_reason} at step {int(self.step.numpy())}; "
                    f"checkpoint saved: {path}.",
                    fix=f"resume with: modelzoo train {self.config.name} --run-dir {self.run_dir}")
            with self._lost_worker_is_an_error():
                if start < cfg.steps or not self.checkpoints.latest_checkpoint:
                    self.save()
                final = self._evaluate_and_track(log)
            if self.is_chief:
                self.recipe.on_train_end(self.run_dir)
                log.finish()
            return final
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            if log:
                log.close()
            if not self.is_chief:
                shutil.rmtree(self.write_dir, ignore_errors=True)

    @contextmanager
    def _lost_worker_is_an_error(self):
        """Under multi-worker, a worker that dies makes the collectives of the others fail
        (TensorFlow's coordination service notices the missing heartbeats within seconds):
        say so in one paragraph, with the checkpoint a restart resumes from."""
        tf = self.tf
        lost = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.AbortedError,
                tf.errors.DeadlineExceededError, tf.errors.InternalError)
        try:
            yield
        except lost as exc:
            if not self.placement.multi_worker:
                raise
            latest = tf.train.latest_checkpoint(str(self.run_dir / CHECKPOINTS))
            raise TrainingError(
                f"Lost contact with the cluster ({self.placement.worker}): "
                f"{_short_tf_message(exc)}. Training stopped; the newest checkpoint is "
                f"{latest or 'none (no checkpoint yet)'}.",
                fix=f"restart every worker with the same command (modelzoo train "
                    f"{self.config.name} --run-dir {self.run_dir}); training resumes from "
                    "that checkpoint") from None

    def _loop(self, iterator, step: int, log: "_Log | None") -> None:
        tf, cfg = self.tf, self.config.train
        last_good = self.checkpoints.latest_checkpoint
        while step < cfg.steps and not self._stop_reason:
            n = self._steps_to_next_event(step)
            logs = {k: float(v) for k, v in self._train_loop(iterator, tf.constant(n)).items()}
            step += n
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            if bad:
                raise TrainingError(
                    f"Training diverged: {', '.join(f'{k}={v}' for k, v in bad.items())} in the "
                    f"steps up to {step}. Stopped without saving, so the last good checkpoint "
                    f"stays the newest: {last_good or 'none (no checkpoint yet)'}.",
                    fix="lower the learning rate (--set train.optimizer.learning_rate=...) in a "
                        "new run; a resumed run keeps the rate saved in its checkpoint")
            if step % cfg.log_every == 0 or step >= cfg.steps:
                # Reading a metric sums it over replicas (a collective under multi-worker), so
                # every worker reads, not just the chief that prints.
                for metric in self.recipe.train_metrics():
                    logs[metric.name] = float(metric.result())
                    metric.reset_state()
            if log:
                log.add(step, n, logs)
            if step % cfg.checkpoint_every == 0 and step < cfg.steps:
                last_good = self.save()
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
                self._evaluate_and_track(log)

    def _steps_to_next_event(self, step: int) -> int:
        cfg = self.config.train
        cadences = [cfg.log_every, cfg.checkpoint_every] + ([cfg.eval_every] if cfg.eval_every else [])
        next_event = min([cfg.steps] + [(step // c + 1) * c for c in cadences])
        return next_event - step

    def _evaluate_and_track(self, log: "_Log | None") -> dict[str, Any]:
        """Evaluate on the validation split (else the eval split); keep the best checkpoint."""
        split = self.config.data.validation_split or self.config.eval.split
        results = self.evaluate(split)
        step = int(self.step.numpy())
        monitor, mode = self.config.eval.monitor, self.config.eval.monitor_mode
        if monitor not in results:
            raise TrainingError(f"eval.monitor {monitor!r} is not among the evaluation results "
                                f"({', '.join(results)}).", fix=f"--set eval.monitor={next(iter(results))}")
        best_file = self.write_dir / CHECKPOINTS / BEST / "best.json"
        best = json.loads(best_file.read_text()) if best_file.is_file() else None
        improved = best is None or (results[monitor] > best["value"] if mode == "max"
                                    else results[monitor] < best["value"])
        if improved:
            self.best.save(checkpoint_number=step)
            files.write_json(best_file, {"step": step, "monitor": monitor,
                                         "value": results[monitor], "split": split})
        if log:
            log.evaluation(step, split, results, improved)
            self.recipe.on_evaluate(step, self.run_dir)
        return {"step": step, "split": split, **results}

    def _catch_signals(self) -> dict:
        """SIGTERM (a preempted job) or a first Ctrl-C stops at the next log/checkpoint boundary
        and saves a checkpoint; a second Ctrl-C interrupts at once."""
        old = {}

        def stop(signum, _frame):
            self._stop_reason = signal.Signals(signum).name
            if signum == signal.SIGINT:
                signal.signal(signal.SIGINT, old.get(signal.SIGINT, signal.default_int_handler))

        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                old[sig] = signal.signal(sig, stop)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return old


def _short_tf_message(exc: Exception) -> str:
    """The gist of a TensorFlow runtime error, on one line: without the graph-node stack
    ("Detected at node ... defined at", indented File lines), `{{function_node}}` and `[Op:]`."""
    text = getattr(exc, "message", None) or str(exc)
    kept = [line for line in text.splitlines()
            if line.strip() and not line[:1].isspace()
            and not line.startswith(("Graph execution error", "Detected at node"))]
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", " ".join(kept))
    text = text.split(" [Op:")[0].split("The error could be from")[0]
    return " ".join(text.split())[:400].rstrip(". ")


def checkpointable(trackables: dict[str, Any]) -> dict[str, Any]:
    """What `tf.train.Checkpoint` can save of each object the recipe returned from `build`.

    Keras 3 keeps sub-layers in its own lists (Sequential and functional layers, a subclass's
    `self.blocks = [...]`), which TensorFlow's checkpoint graph does not follow: BatchNorm moving
    statistics of such layers were silently not saved. So every Keras layer/model is saved as
    ALL its variables (weights and random-seed states), keyed by position and local name
    ("0007_moving_mean"): positions are stable for one architecture, while Keras' global
    auto-names ("dense_3") change with how many models a process built before. Other objects
    (optimisers, `tf.random.Generator`) are saved as they are.
    """
    import keras

    saved = {}
    for name, obj in trackables.items():
        if isinstance(obj, keras.layers.Layer):
            saved[name] = {f"{i:04d}_{v.name}": v for i, v in enumerate(obj.variables)}
        else:
            saved[name] = obj
    return saved


class _Log:
    """Progress, TensorBoard events and metrics.jsonl for the chief."""

    def __init__(self, engine: Engine, start: int):
        tf = engine.tf
        self.engine, self.tf = engine, tf
        self.cfg = engine.config.train
        self.images_per_step = engine.recipe.images_per_step()
        run_dir = engine.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        # A run killed after its last checkpoint logged steps that the resumed run redoes.
        runs.trim_metrics(run_dir, start)
        self.writers = {"train": tf.summary.create_file_writer(str(run_dir / "tb" / "train")),
                        "validation": tf.summary.create_file_writer(str(run_dir / "tb" / "validation"))}
        self.jsonl = open(run_dir / runs.METRICS_FILE, "a", encoding="utf-8")
        self.pending: dict[str, float] = {}
        self.pending_steps = 0
        self.last_time, self.last_step = time.perf_counter(), start
        self.bar = _Bar(start, self.cfg.steps) if ui.err.is_terminal else None

    def add(self, step: int, n: int, logs: dict[str, float]) -> None:
        """Losses of `n` steps (averaged over those steps) and, at a log boundary, metrics."""
        metric_names = {m.name for m in self.engine.recipe.train_metrics()}
        for k, v in logs.items():
            if k not in metric_names:
                self.pending[k] = self.pending.get(k, 0.0) + v * n
        self.pending_steps += n
        if step % self.cfg.log_every and step < self.cfg.steps:
            if self.bar:
                self.bar.update(step, "")
            return
        now = time.perf_counter()
        rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_step = now, step
        values = {k: v / self.pending_steps for k, v in self.pending.items()}
        values.update({k: v for k, v in logs.items() if k in metric_names})
        self.pending, self.pending_steps = {}, 0
        speed = {"steps_per_sec": round(rate, 2),
                 "images_per_sec": round(rate * self.images_per_step, 1)}
        self._record("train", step, {**values, **speed})
        text = " ".join(f"{k} {v:.4f}" for k, v in values.items())
        if self.bar:
            self.bar.update(step, f"{rate:.1f} steps/s | {text}")
        else:
            ui.info(f"train | step {step}/{self.cfg.steps} | {rate:.1f} steps/s | "
                    f"{rate * self.images_per_step:.0f} images/s | {text}")

    def evaluation(self, step: int, split: str, results: dict[str, float], best: bool) -> None:
        self._record("validation", step, results, split=split)
        text = " ".join(f"{k} {v:.4f}" for k, v in results.items())
        message = f"eval  | step {step} | {split} | {text}{' | best so far' if best else ''}"
        if self.bar:
            self.bar.print(message)
        else:
            ui.info(message)

    def _record(self, phase: str, step: int, values: dict[str, float], **extra) -> None:
        with self.writers[phase].as_default(step=step):
            for k, v in values.items():
                self.tf.summary.scalar(k, v)
        self.writers[phase].flush()
        line = {"phase": phase, "step": step, "time": round(time.time(), 3), **extra, **values}
        self.jsonl.write(json.dumps(line) + "\n")
        self.jsonl.flush()

    def finish(self) -> None:
        from modelzoo import plots

        if self.bar:
            self.bar.stop()
            self.bar = None
        plots.training_curves(runs.read_metrics(self.engine.run_dir),
                              self.engine.run_dir / "curves.png",
                              title=f"{self.engine.config.name}: training curves")

    def close(self) -> None:
        if self.bar:
            self.bar.stop()
        self.jsonl.close()
        for writer in self.writers.values():
            writer.close()



class _Bar:
    """A Rich progress bar on a terminal: step M/N, time left, and the latest log values."""

    def __init__(self, start: int, total: int):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[logs]}"),
                                 console=ui.err)
        self.task = self.progress.add_task("train", total=total, completed=start, logs="")
        self.progress.start()

    def update(self, step: int, logs: str) -> None:
        fields = {"logs": logs} if logs else {}
        self.progress.update(self.task, completed=step, **fields)

    def print(self, message: str) -> None:
        self.progress.console.print(message, markup=False)

    def stop(self) -> None:
        self.progress.stop()

"""`modelzoo eval`: restore a run's checkpoint, evaluate a split, gate on thresholds.

The run dir holds everything needed (config.yaml, env.json with the precision, checkpoints), so
`modelzoo eval --run-dir DIR` takes no other argument. The report is flat JSON: metric -> number,
plus model, dataset, split, examples, checkpoint and step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelzoo import config as config_module
from modelzoo import devices, paths, runs
from modelzoo.errors import GateError, UsageError


@dataclass(frozen=True)
class Session:
    """A run's recipe and engine with a checkpoint restored (shared by eval and export)."""

    config: Any
    recipe: Any
    engine: Any
    checkpoint: str
    step: int


def find_run_dir(name_or_path: str | None, run_dir: Path | None) -> Path:
    if run_dir is not None:
        if not Path(run_dir).is_dir():
            raise UsageError(f"Run dir {run_dir} does not exist.", fix="ls runs/*/")
        return Path(run_dir)
    if not name_or_path:
        raise UsageError("Say which run: a config name (its newest run under runs/) or --run-dir.",
                         fix="modelzoo eval shallownet   or   modelzoo eval --run-dir runs/shallownet/<time>")
    return runs.newest_run_dir(config_module.load(name_or_path).config.name)


def checkpoint_path(run_dir: Path, checkpoint: str | None) -> str:
    """`latest` (default), `best`, a checkpoint prefix (ckpt-300) or a folder of checkpoints."""
    import tensorflow as tf

    folder = {None: run_dir / "checkpoints", "latest": run_dir / "checkpoints",
              "best": run_dir / "checkpoints" / "best"}.get(checkpoint)
    if folder is None and Path(checkpoint).is_dir():
        folder = Path(checkpoint)
    if folder is not None:
        found = tf.train.latest_checkpoint(str(folder))
        if found is None:
            raise UsageError(f"No checkpoint in {folder}.",
                             fix=f"modelzoo train --run-dir {run_dir}   (or pick --checkpoint)")
        return found
    if not Path(str(checkpoint) + ".index").is_file():
        raise UsageError(f"--checkpoint {checkpoint} is not a checkpoint (no {checkpoint}.index).",
                         fix=f"ls {run_dir}/checkpoints  (pass e.g. {run_dir}/checkpoints/ckpt-300)")
    return str(checkpoint)


def open_session(run_dir: Path, checkpoint: str | None, data_dir: Path | None, *,
                 placement: "devices.Placement | None" = None) -> Session:
    """Rebuild a run's recipe from its config.yaml, under its precision, and restore a
    checkpoint (`latest`, `best` or a path): the one way eval, export, sample and the GAN
    metrics' classifier reopen a run.

    Without `placement` the caller owns the process: one device is chosen and the run's seed
    is set, so recipe state built before restoring (e.g. DCGAN's untrained-generator floor) is
    the run's own. With a `placement` (a run opened inside another run's strategy) the
    process's devices and random state are left alone.
    """
    from modelzoo.engine import Engine
    from modelzoo.registry import recipe_class
    from modelzoo.training import precision_policy, seed_everything

    cfg = runs.read_config(run_dir)
    path = checkpoint_path(run_dir, checkpoint)
    with precision_policy(runs.read_env(run_dir).get("precision", "float32")):
        if placement is None:
            placement = devices.place("auto", "one")
            seed_everything(cfg.train.seed, deterministic=False)
        recipe = recipe_class(cfg.recipe)(cfg, paths.data_dir(data_dir))
        engine = Engine(recipe, placement, run_dir)
        step = engine.restore(path)
    return Session(cfg, recipe, engine, path, step)


def evaluate(name_or_path: str | None = None, *, run_dir: Path | None = None,
             checkpoint: str | None = None, split: str | None = None,
             data_dir: Path | None = None, pictures_dir: Path | None = None) -> dict[str, Any]:
    """The flat report; writes the recipe's pictures (confusion matrix) to `pictures_dir`."""
    from modelzoo.training import require_data

    run_dir = find_run_dir(name_or_path, run_dir)
    require_data(runs.read_config(run_dir), paths.data_dir(data_dir))
    session = open_session(run_dir, checkpoint, data_dir)
    cfg = session.config
    split = split or cfg.eval.split
    metrics = session.engine.evaluate(split)
    session.recipe.on_evaluate(session.step, Path(pictures_dir or run_dir))
    return {**metrics, "model": cfg.model.name,
            "dataset": cfg.data.target_dataset or cfg.data.dataset, "split": split,
            "examples": session.engine.examples_evaluated, "checkpoint": session.checkpoint,
            "step": session.step, "run_dir": str(run_dir), **session.recipe.eval_info()}


def parse_gates(texts: list[str]) -> dict[str, float]:
    """`accuracy=0.85` -> {"accuracy": 0.85}."""
    gates = {}
    for text in texts:
        metric, sep, value = text.partition("=")
        try:
            gates[metric.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not metric.strip():
            raise UsageError(f"--fail-under {text!r} is not METRIC=VALUE.",
                             fix="--fail-under accuracy=0.85")
    return gates


def check_gates(report: dict[str, Any], gates: dict[str, float]) -> None:
    """GateError (exit 1) naming every metric under its threshold; UsageError for unknown ones."""
    unknown = [m for m in gates if not isinstance(report.get(m), (int, float))]
    if unknown:
        known = [k for k, v in report.items() if isinstance(v, float)]
        raise UsageError(f"--fail-under names {', '.join(unknown)}, which this evaluation does "
                         f"not report (it reports {', '.join(known)}).",
                         fix=f"--fail-under {known[0] if known else 'accuracy'}=VALUE")
    missed = [f"{m} {report[m]:.4f} < {v}" for m, v in gates.items() if report[m] < v]
    if missed:
        raise GateError("Evaluation below threshold: " + "; ".join(missed) + ".",
                        fix="train longer (--set train.steps=...) or lower the threshold")

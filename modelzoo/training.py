"""`modelzoo train`: config → devices and strategy → run dir → recipe → Engine.train().

The order matters: devices are chosen before TensorFlow starts its runtime, the seed is fixed
before any model is built, and the mixed-precision policy is set before the recipe builds layers.
"""

from __future__ import annotations

import dataclasses
import json
import random
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelzoo import config as config_module
from modelzoo import devices, paths, runs, ui
from modelzoo.errors import DataError, UsageError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    final: dict[str, Any]  # the last evaluation: step, split, metric -> value


def train(name_or_path: str, *, overrides=(), device: str = "auto", strategy: str = "auto",
          precision: str = "float32", run_dir: Path | None = None, resume: bool = False,
          seed: int | None = None, deterministic: bool = False, eager: bool = False,
          data_dir: Path | None = None) -> TrainResult:
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}.",
                         fix="--precision mixed_float16")
    cfg = config_module.load(name_or_path, overrides).config
    placement = devices.place(device, strategy)  # before anything else touches TensorFlow
    root = paths.data_dir(data_dir)
    require_data(cfg, root)
    run_dir = _choose_run_dir(cfg.name, run_dir, resume)
    resuming = runs.has_checkpoints(run_dir)
    if resume and not resuming:
        raise UsageError(f"--resume: {run_dir} holds no checkpoint to resume from.",
                         fix=f"modelzoo train {name_or_path}   (a fresh run)")
    cfg = _with_seed(cfg, seed, run_dir if resuming else None)
    if placement.worker != "chief":
        ui.info(f"This worker: {placement.worker}")
    if placement.is_chief:
        runs.write_config(run_dir, cfg)
        runs.write_env(run_dir, placement.description, precision=precision,
                       deterministic=deterministic, eager=eager)
        ui.info(f"Run dir: {run_dir}  ({'resuming' if resuming else 'new run'}; seed "
                f"{cfg.train.seed}; {placement.description}; precision {precision})")
    with precision_policy(precision):
        seed_everything(cfg.train.seed, deterministic)
        from modelzoo.engine import Engine
        from modelzoo.registry import recipe_class

        recipe = recipe_class(cfg.recipe)(cfg, root)
        engine = Engine(recipe, placement, run_dir, eager=eager)
        engine.restore()
        final = engine.train()
    return TrainResult(run_dir=run_dir, final=final)



def require_data(cfg: "config_module.ExperimentConfig", data_dir: Path) -> None:
    """A clear error, with the download command, when a dataset the config needs is missing,
    or was generated from an earlier version of another one (mnist_m from a replaced mnist)."""
    from modelzoo import datasets

    for name in filter(None, (cfg.data.dataset, cfg.data.target_dataset)):
        fix = f"modelzoo download --dataset {name} --data-dir {data_dir}"
        if not datasets.is_ready(name, data_dir):
            raise DataError(f"Dataset {name!r} is not prepared in {data_dir}.", fix=fix)
        outdated = datasets.outdated_bases(name, data_dir)
        if outdated:
            bases = ", ".join(repr(b) for b in outdated)
            raise DataError(f"Dataset {name!r} in {data_dir} was generated from an earlier "
                            f"{bases}, which has been prepared again since from other files: "
                            f"its images no longer match. Rebuild it (nothing else is touched).",
                            fix=fix)


def _choose_run_dir(config_name: str, explicit: Path | None, resume: bool) -> Path:
    if explicit is not None:
        return Path(explicit)
    if resume:
        return runs.newest_run_dir(config_name)
    return runs.new_run_dir(config_name)


def _with_seed(cfg, explicit: int | None, resumed_from: Path | None):
    """--seed, else the resumed run's seed (its data order depends on it), else the config's,
    else one agreed by all workers of a TF_CONFIG cluster, else a fresh random one."""
    seed = explicit
    if seed is None and resumed_from is not None:
        seed = runs.read_config(resumed_from).train.seed
    if seed is None:
        seed = cfg.train.seed
    tf_config = devices.read_tf_config()
    if seed is None and tf_config is not None:
        seed = zlib.crc32(json.dumps(tf_config["cluster"], sort_keys=True).encode()) % 2**31
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))


def seed_everything(seed: int, deterministic: bool) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # Python, NumPy, TensorFlow and Keras generators
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@contextmanager
def precision_policy(policy: str):
    """The Keras global dtype policy for the layers built inside (restored afterwards)."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)

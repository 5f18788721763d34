"""`modelzoo export`: write a run's inference network, reload it, and prove it computes the same.

Formats: `keras` (a `.keras` file; `keras.models.load_model`) and `savedmodel` (a TF SavedModel
with a `serve` signature, for TF Serving / TFLite converters; `tf.saved_model.load`). Success is
reported only after the reloaded model's outputs match the trained model's on a real batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelzoo.errors import ModelzooError, UsageError
from modelzoo.files import replacing

FORMATS = ("keras", "savedmodel")
TOLERANCE = 1e-5


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    checkpoint: str
    batch: int
    max_abs_diff: float


def export(run_dir: Path, fmt: str = "keras", out: Path | None = None,
           checkpoint: str | None = None, data_dir: Path | None = None) -> ExportResult:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}.",
                         fix="--format keras")
    import numpy as np
    import tensorflow as tf

    from modelzoo import paths, runs
    from modelzoo.evaluate import find_run_dir, open_session
    from modelzoo.training import require_data

    run_dir = find_run_dir(None, run_dir)
    require_data(runs.read_config(run_dir), paths.data_dir(data_dir))  # the comparison batch
    session = open_session(run_dir, checkpoint, data_dir)
    model = session.recipe.inference_model()
    batch = next(iter(session.recipe.eval_dataset(session.config.eval.split, 32)))
    inputs = tf.nest.flatten(batch)[0]
    expected = np.asarray(model(inputs, training=False))
    path = Path(out) if out else run_dir / "export" / ("model.keras" if fmt == "keras" else "savedmodel")
    if fmt == "keras" and path.suffix != ".keras":
        raise UsageError(f"--out {path} must end in .keras for --format keras.",
                         fix=f"--out {path.with_suffix('.keras')}")
    # Written under a temp name and reloaded from there: only a model that reproduces the
    # trained one is renamed onto `path`, so a failed export leaves the old one untouched.
    with replacing(path) as tmp:
        got = np.asarray(_write_and_reload(model, fmt, tmp, inputs))
        diff = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
        if not diff <= TOLERANCE:
            raise ModelzooError(f"The model exported to {path} does not reproduce the trained "
                                f"model: max |difference| {diff:.3g} > {TOLERANCE} on a batch of "
                                f"{len(expected)}; nothing was written.",
                                fix="report this with the run dir attached")
    return ExportResult(path, fmt, session.checkpoint, int(len(expected)), diff)


def _write_and_reload(model, fmt: str, path: Path, inputs):
    """Save `model` at `path` in `fmt`, load it back, and return its outputs on `inputs`."""
    if fmt == "keras":
        import keras

        model.save(path)
        return keras.models.load_model(path)(inputs, training=False)
    import tensorflow as tf

    model.export(str(path), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(path))  # keep a reference: it owns the variables
    return reloaded.serve(inputs)

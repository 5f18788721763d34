"""What the categories share: the row format, tiny data, the CLI in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.*` helpers are reused, not copied
    sys.path.insert(0, str(REPO))

from tests.datasets.datasets_testlib import tiny_mnist  # noqa: E402
from tests.engine_testlib import modelzoo  # noqa: E402

__all__ = ["REPO", "modelzoo", "row", "tiny_mnist", "tiny_mnist_folder", "environ",
           "prepared_data_dir"]

# A training run small enough to start, checkpoint and finish in seconds on a loaded CPU.
TINY_TRAIN = ["--device", "cpu", "--set", "train.batch_size=8", "--set", "eval.batch_size=64"]


def row(category: str, check: str, tried: int, survived: int, lost: int, goal: str, met: bool,
        notes: str = "") -> dict:
    return {"category": category, "check": check, "tried": tried, "survived": survived,
            "lost": lost, "goal": goal, "met": bool(met), "notes": notes}


def tiny_mnist_folder(folder: Path, n_train: int = 256, n_test: int = 64) -> Path:
    """The four MNIST file names with tiny random digits (a `--from` folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in tiny_mnist(n_train=n_train, n_test=n_test).items():
        (folder / name).write_bytes(data)
    return folder


def prepared_data_dir(work: Path, name: str = "data") -> Path:
    """A data dir with tiny MNIST prepared through the real `modelzoo download --from`."""
    data_dir = work / name
    source = tiny_mnist_folder(work / f"{name}-mnist-src")
    result = modelzoo(["download", "--dataset", "mnist", "--from", str(source), "--data-dir",
                       str(data_dir)], data_dir, work)
    if result.returncode != 0:
        raise RuntimeError(f"preparing tiny MNIST failed:\n{result.stderr}")
    return data_dir


@contextmanager
def environ(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the block; all restored after."""
    with mock.patch.dict(os.environ):
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield


def newest_checkpoint_step(run_dir: Path) -> int:
    """The step of a run's newest checkpoint, read from TF's `checkpoint` state file (0: none).

    Parsed as text, not with `tf.train.latest_checkpoint`: the harness polls this while it kills
    processes, and must not pay TensorFlow's import."""
    state = run_dir / "checkpoints" / "checkpoint"
    found = re.search(r'model_checkpoint_path: "ckpt-(\d+)"', state.read_text()) \
        if state.is_file() else None
    return int(found.group(1)) if found else 0


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def tree(folder: Path) -> set[str]:
    """Every path under `folder` (relative), links included, for before/after comparisons."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")} if folder.exists() \
        else set()

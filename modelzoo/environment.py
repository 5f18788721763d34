"""Facts about this machine and software, for `modelzoo env` and each run's `env.json`."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path


def describe() -> dict[str, str]:
    """Versions and devices (imports TensorFlow)."""
    import keras
    import tensorflow as tf

    from modelzoo import __version__

    gpus = tf.config.list_physical_devices("GPU")
    build = tf.sysconfig.get_build_info()
    return {
        "modelzoo": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cuda": str(build.get("cuda_version", "none")),
        "cudnn": str(build.get("cudnn_version", "none")),
        "cpus": str(len(tf.config.list_physical_devices("CPU"))),
        "gpus": ", ".join(f"{d.name}" for d in gpus) or "none",
        "git_commit": git_commit() or "unknown",
    }


def git_commit() -> str | None:
    """The commit of the modelzoo checkout, when it is one."""
    root = Path(__file__).resolve().parent.parent
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None

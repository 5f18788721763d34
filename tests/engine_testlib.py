"""Helpers for the training tests: run the CLI in a fresh process, read a run dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}
# Short runs: enough steps for the 6,000-digit sample to reach > 0.85 test accuracy with ShallowNet.
SHORT = ["--set", "train.log_every=20", "--set", "train.checkpoint_every=20"]


def modelzoo(args: list[str], data_dir: Path, cwd: Path, env: dict | None = None,
             timeout: float = 240, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """`python -m modelzoo ARGS` in a new process (devices can only be set once per process)."""
    full_env = {**os.environ, **QUIET, "MODELZOO_DATA_DIR": str(data_dir), **(env or {})}
    full_env.pop("TF_CONFIG", None) if "TF_CONFIG" not in (env or {}) else None
    command = [sys.executable, "-m", "modelzoo", *args]
    if popen.pop("background", False):
        return subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, **popen)
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout, **popen)


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on: refuses connections until someone binds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records(run_dir: Path, phase: str) -> list[dict]:
    from modelzoo.runs import read_metrics

    return [r for r in read_metrics(Path(run_dir)) if r["phase"] == phase]


def final_eval(run_dir: Path) -> dict:
    return records(run_dir, "validation")[-1]


def without_timing(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("time", "steps_per_sec", "images_per_sec")}

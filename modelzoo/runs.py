"""Run directories: where one training run keeps everything it made.

    runs/<config>/<YYYYmmdd-HHMMSS>/
        config.yaml      the resolved config, with the effective seed
        env.json         versions, devices, git commit, command line
        metrics.jsonl    one JSON object per log line and per evaluation
        tb/train, tb/validation   TensorBoard events
        checkpoints/     the newest few (keep_checkpoints); checkpoints/best/ the best on eval.monitor
        curves.png       training curves, drawn at the end
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import yaml

from modelzoo import config as config_module
from modelzoo import files
from modelzoo.errors import UsageError

RUNS_ROOT = Path("runs")
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"


def new_run_dir(config_name: str, root: Path = RUNS_ROOT) -> Path:
    """`runs/<config>/<timestamp>`, with a suffix if two runs start in the same second."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = root / config_name / stamp, 1
    while candidate.exists():
        n += 1
        candidate = root / config_name / f"{stamp}-{n}"
    return candidate


def newest_run_dir(config_name: str, root: Path = RUNS_ROOT) -> Path:
    """The most recent run of `config_name` that holds a config (for `modelzoo eval NAME`)."""
    runs = sorted((p for p in (root / config_name).glob("*") if (p / CONFIG_FILE).is_file()),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UsageError(f"No runs of {config_name!r} under {root}/{config_name}.",
                         fix=f"modelzoo train {config_name}   (or pass --run-dir DIR)")
    return runs[-1]


def has_checkpoints(run_dir: Path) -> bool:
    return (run_dir / "checkpoints" / "checkpoint").is_file()


def write_config(run_dir: Path, cfg: "config_module.ExperimentConfig") -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    text = "# Resolved config of this run (bases merged, overrides and the seed applied).\n"
    text += config_module.to_yaml(cfg.to_dict())
    files.write_text(run_dir / CONFIG_FILE, text)


def read_config(run_dir: Path) -> "config_module.ExperimentConfig":
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise UsageError(f"{run_dir} is not a run dir: it has no {CONFIG_FILE}.",
                         fix="pass the folder `modelzoo train` printed (runs/<config>/<time>)")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return config_module.from_dict(data, source=str(path))


def write_env(run_dir: Path, placement_description: str, **facts) -> None:
    """env.json: versions, devices, git commit, the command line, and `facts` (e.g. precision)."""
    from modelzoo import environment

    env = environment.describe()
    env["strategy"] = placement_description
    env.update({k: str(v) for k, v in facts.items()})
    env["command"] = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    env["cwd"] = os.getcwd()
    files.write_json(run_dir / "env.json", env)


def read_env(run_dir: Path) -> dict:
    path = run_dir / "env.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def read_metrics(run_dir: Path) -> list[dict]:
    """The records of metrics.jsonl; a line torn by a killed process is skipped."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    return [r for r in map(_record, path.read_text(encoding="utf-8").splitlines()) if r]


def trim_metrics(run_dir: Path, step: int) -> None:
    """Drop the records after `step` (the checkpoint a killed run resumes from) and torn lines,
    so a resumed run's metrics.jsonl has each step once."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if (r := _record(line)) and r.get("step", 0) <= step]
    if len(kept) != len(lines):
        files.write_text(path, "".join(line + "\n" for line in kept))


def _record(line: str) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None

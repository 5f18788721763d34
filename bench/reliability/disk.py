"""Disk and paths: a read-only data dir, a data dir whose path has spaces and non-ASCII
characters, and running from any working directory (no `sys.path` tricks can break an import).

Read-only is real: the data dir is chmod'ed read-only, and as root (where permission bits do not
bind) the commands run without CAP_DAC_OVERRIDE. Reading a prepared dataset must work;
writing to it must fail with a one-paragraph message (exit 1), not a traceback.
"""

from __future__ import annotations

import ctypes
import os
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from bench.reliability.common import (TINY_TRAIN, fresh, modelzoo, prepared_data_dir, row,
                                      tiny_mnist_folder)

CATEGORY = "disk and paths"
STEPS = ["--set", "train.steps=4", "--set", "train.log_every=2",
         "--set", "train.checkpoint_every=2"]
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2  # <linux/prctl.h>, capability.h


@contextmanager
def _read_only(data_dir: Path):
    """chmod `data_dir` read-only for the block; yield the keyword arguments that start a
    subprocess for which that binds (root loses CAP_DAC_OVERRIDE, as in a real read-only mount)."""
    modes = {p: p.stat().st_mode for p in [data_dir, *data_dir.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield {"preexec_fn": _drop_root_override} if os.getuid() == 0 else {}
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def _drop_root_override() -> None:
    """Runs in the child before exec: what it execs gets no CAP_DAC_OVERRIDE/READ_SEARCH."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _expect(result, code: int, *needles: str) -> tuple[bool, str]:
    output = result.stdout + (result.stderr or "")
    flat = " ".join(output.split())
    ok = result.returncode == code and "Traceback" not in output and all(
        n in flat for n in needles)
    return ok, f"exit {result.returncode}" + ("" if ok else f": {flat[-200:]}")


def _read_only_row(work: Path, data_dir: Path) -> dict:
    empty = work / "empty-data"
    empty.mkdir()
    scratch = fresh(work / "scratch")
    run_dir = scratch / "run"
    source = tiny_mnist_folder(work / "ro-src")
    checks = {}
    with _read_only(data_dir) as as_reader, _read_only(empty) as as_reader_empty:
        def cli(args, target=data_dir, extra=as_reader):
            return modelzoo(args, target, scratch, **extra)

        checks["list datasets"] = _expect(cli(["list", "datasets"]), 0, "mnist")
        checks["download (already ready)"] = _expect(
            cli(["download", "--dataset", "mnist", "--data-dir", str(data_dir)]), 0, "ready")
        checks["train reading it"] = _expect(cli(["train", "shallownet", "--run-dir", str(run_dir),
                                                 *TINY_TRAIN, *STEPS]), 0, "trained to step 4")
        checks["eval reading it"] = _expect(cli(["eval", "--run-dir", str(run_dir)]), 0,
                                            "accuracy")
        checks["download --force (must fail cleanly)"] = _expect(
            cli(["download", "--dataset", "mnist", "--force", "--from", str(source),
                 "--data-dir", str(data_dir)]), 1, str(data_dir), "--data-dir")
        checks["download into a read-only empty dir"] = _expect(
            cli(["download", "--dataset", "mnist", "--from", str(source), "--data-dir",
                 str(empty)], empty, as_reader_empty), 1, str(empty), "--data-dir")
    how = "chmod a-w" + (", root without CAP_DAC_OVERRIDE" if os.getuid() == 0 else "")
    return _row("read-only data dir", checks, "reads work; writes fail with exit 1 and a "
                "message", how)


def _row(check: str, checks: dict[str, tuple[bool, str]], goal: str, prefix: str = "") -> dict:
    survived = sum(ok for ok, _ in checks.values())
    bad = [f"{name}: {note}" for name, (ok, note) in checks.items() if not ok]
    notes = "; ".join(bad) if bad else (f"{', '.join(checks)}: all as expected"
                                        if len(checks) < 8 else
                                        f"{len(checks)} commands: all as expected")
    lost = sum("Traceback" in note for _, note in checks.values())
    return row(CATEGORY, check, len(checks), survived, lost, goal, survived == len(checks),
               f"{prefix}; {notes}" if prefix else notes)


def _unicode_row(work: Path) -> dict:
    odd = work / "dätä dir ✓ 数据"
    data_dir, source = odd / "data", tiny_mnist_folder(odd / "mnist src é")
    run_dir = odd / "runs" / "run één"
    checks = {}
    cli = lambda args: modelzoo(args, data_dir, odd)  # noqa: E731
    checks["download --from"] = _expect(cli(["download", "--dataset", "mnist", "--from",
                                             str(source), "--data-dir", str(data_dir)]), 0)
    checks["list datasets"] = _expect(cli(["list", "datasets", "--data-dir", str(data_dir)]), 0)
    checks["train"] = _expect(cli(["train", "shallownet", "--data-dir", str(data_dir),
                                   "--run-dir", str(run_dir), *TINY_TRAIN, *STEPS]), 0,
                              "trained to step 4")
    checks["eval"] = _expect(cli(["eval", "--run-dir", str(run_dir), "--json",
                                  str(odd / "évaluation.json")]), 0)
    return _row("paths with spaces and non-ASCII", checks, "every command exits 0")


def _any_cwd_row(work: Path, data_dir: Path) -> dict:
    decoy = fresh(work / "elsewhere")
    (decoy / "configs").mkdir()
    (decoy / "configs" / "shallownet.yaml").write_text("not: [the, packaged, config\n")
    (decoy / "datasets").mkdir()  # same names as the checkout's folders: must not matter
    script = Path(sys.executable).parent / "modelzoo"
    env = {**os.environ, "MODELZOO_DATA_DIR": str(data_dir), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": ""}
    env.pop("TF_CONFIG", None)
    commands = {"--help": ["--help"], "list": ["list"], "config show": ["config", "show",
                                                                        "shallownet"]}
    checks = {}
    for cwd in (Path("/"), decoy, Path(os.path.expanduser("~"))):
        for entry, prefix in (("script", [str(script)]),
                              ("python -m", [sys.executable, "-m", "modelzoo"])):
            for name, args in commands.items():
                result = subprocess.run([*prefix, *args], cwd=cwd, env=env, capture_output=True,
                                        text=True, timeout=120)
                ok, note = _expect(result, 0)
                ok = ok and "Error" not in result.stderr.split("absl::InitializeLog")[-1] \
                    and (name != "config show" or "recipe: classifier" in result.stdout)
                checks[f"{entry} {name} in {cwd}"] = (ok, note)
    result = subprocess.run([str(script), "env"], cwd="/", env=env, capture_output=True,
                            text=True, timeout=120)  # imports TensorFlow: once is enough
    checks["script env in /"] = _expect(result, 0, "tensorflow")
    train = modelzoo(["train", "shallownet", *TINY_TRAIN, *STEPS], data_dir, decoy)
    checks[f"train in {decoy}"] = _expect(train, 0, "trained to step 4")
    return _row("running from any working directory", checks, "no ImportError; exit 0",
                "console script and python -m, from /, ~ and a folder with decoy configs/")


def run(work: Path, quick: bool = False) -> list[dict]:
    data_dir = prepared_data_dir(work)
    return [_read_only_row(work, data_dir), _unicode_row(work), _any_cwd_row(work, data_dir)]

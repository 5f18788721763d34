"""Training crashes: `kill -9` a real `modelzoo train` at random moments, then resume it.

Moments (seeded): three while a checkpoint is being written (the kill lands as soon as a
`ckpt-N_temp` folder appears), one during start-up, the rest at a random step. After each kill
every checkpoint the run lists is restored with `tf.train.load_checkpoint` (corrupt if it fails
or holds the wrong step), then the same command resumes the run to the end. Survived: it resumed
at exactly the newest saved step, finished at `train.steps` with each step logged once, lost at
most one checkpoint interval, and (the run is `--deterministic`) ended with the same test metrics
as a run that was never interrupted.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from modelzoo.runs import read_metrics

from bench.reliability.common import (TINY_TRAIN, fresh, modelzoo, newest_checkpoint_step,
                                      prepared_data_dir, row)

CATEGORY = "training crashes"
STEPS, CHECKPOINT_EVERY, LOG_EVERY = 600, 20, 10
ARGS = ["train", "shallownet", "--seed", "5", "--deterministic", *TINY_TRAIN,
        "--set", f"train.steps={STEPS}", "--set", f"train.checkpoint_every={CHECKPOINT_EVERY}",
        "--set", f"train.log_every={LOG_EVERY}"]


@dataclass
class Trial:
    moment: str
    saved: int = 0  # newest checkpoint step on disk after the kill
    logged: int = 0  # newest step in metrics.jsonl after the kill
    mid_write: bool = False  # a checkpoint's temp files were still there after the kill
    checkpoints: int = 0
    corrupt: list[str] = field(default_factory=list)
    resumed_at: int | None = None
    final_step: int | None = None
    steps_once: bool = False
    same_metrics: bool = False
    notes: str = ""

    @property
    def resumed_exactly(self) -> bool:
        return self.resumed_at == self.saved

    @property
    def lost_beyond_interval(self) -> bool:
        return self.logged - self.saved > CHECKPOINT_EVERY

    @property
    def survived(self) -> bool:
        return (self.resumed_exactly and self.final_step == STEPS and self.steps_once
                and not self.corrupt and not self.lost_beyond_interval and self.same_metrics)



def _temp_files(run_dir: Path) -> list[str]:
    folder = run_dir / "checkpoints"
    return [p.name for p in folder.iterdir() if "_temp" in p.name or ".tmp" in p.name] \
        if folder.is_dir() else []


def _kill_when(proc, run_dir: Path, moment: str, rng: random.Random) -> bool:
    """Wait for `moment`, then SIGKILL. False if the run ended first."""
    if moment == "start-up":
        deadline = time.monotonic() + rng.uniform(0.5, 4.0)
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
    elif moment.startswith("checkpoint write"):
        target = rng.randrange(2, STEPS // CHECKPOINT_EVERY - 2) * CHECKPOINT_EVERY
        folder = run_dir / "checkpoints"
        while proc.poll() is None:
            if folder.is_dir() and any(name.endswith("_temp") and int(name[5:-5]) >= target
                                       for name in os.listdir(folder)
                                       if re.fullmatch(r"ckpt-\d+_temp", name)):
                break
            time.sleep(0.0005)
    else:
        target = rng.randrange(LOG_EVERY, STEPS - 5 * LOG_EVERY)
        while proc.poll() is None and max(
                [r["step"] for r in read_metrics(run_dir) if r.get("phase") == "train"],
                default=0) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def _check_checkpoints(run_dir: Path, trial: Trial) -> None:
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(run_dir / "checkpoints"))
    paths = list(state.all_model_checkpoint_paths) if state else []
    trial.checkpoints = len(paths)
    for path in paths:
        full = path if os.path.isabs(path) else str(run_dir / "checkpoints" / path)
        try:
            step = int(tf.train.load_checkpoint(full).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
            if f"ckpt-{step}" != Path(full).name:
                trial.corrupt.append(f"{Path(full).name} holds step {step}")
        except Exception as exc:  # noqa: BLE001 - any failure to restore is corruption
            trial.corrupt.append(f"{Path(full).name}: {type(exc).__name__}")


def _trial(index: int, moment: str, rng: random.Random, data_dir: Path, work: Path,
           reference: dict) -> Trial:
    run_dir = work / f"run-{index}"
    trial = Trial(moment)
    proc = modelzoo([*ARGS, "--run-dir", str(run_dir)], data_dir, work, background=True)
    killed = _kill_when(proc, run_dir, moment, rng)
    if not killed:
        trial.notes = "the run finished before the kill; "
    trial.mid_write = bool(_temp_files(run_dir))
    trial.saved = newest_checkpoint_step(run_dir)
    trial.logged = max([r["step"] for r in read_metrics(run_dir) if r.get("phase") == "train"],
                       default=0)
    _check_checkpoints(run_dir, trial)
    resumed = modelzoo([*ARGS, "--run-dir", str(run_dir)], data_dir, work, timeout=300)
    found = re.search(r"Resuming at step (\d+)", resumed.stderr)
    trial.resumed_at = int(found.group(1)) if found else (0 if resumed.returncode == 0 else None)
    records = read_metrics(run_dir)
    steps = [r["step"] for r in records if r.get("phase") == "train"]
    trial.steps_once = steps == list(range(LOG_EVERY, STEPS + 1, LOG_EVERY))
    final = [r for r in records if r.get("phase") == "validation"]
    trial.final_step = final[-1]["step"] if final and resumed.returncode == 0 else None
    trial.same_metrics = bool(final) and all(
        abs(final[-1][k] - reference[k]) <= 1e-6 for k in ("loss", "accuracy"))
    if resumed.returncode != 0:
        trial.notes += f"resume exited {resumed.returncode}: {resumed.stderr[-300:]}"
    return trial


def _moments(trials: int) -> list[str]:
    writes = max(1, min(3, trials // 3))
    return [f"checkpoint write {i + 1}" for i in range(writes)] + ["start-up"] + \
        [f"random step {i + 1}" for i in range(trials - writes - 1)]


def run(work: Path, quick: bool = False) -> list[dict]:
    trials = 3 if quick else 10
    data_dir = prepared_data_dir(work)
    ref_dir = fresh(work / "reference") / "run"
    ref = modelzoo([*ARGS, "--run-dir", str(ref_dir)], data_dir, work, timeout=300)
    if ref.returncode != 0:
        raise RuntimeError(f"the uninterrupted reference run failed:\n{ref.stderr[-2000:]}")
    reference = [r for r in read_metrics(ref_dir) if r["phase"] == "validation"][-1]
    rng = random.Random(20240611)
    results = []
    for index, moment in enumerate(_moments(trials)):
        results.append(_trial(index, moment, rng, data_dir, work, reference))
        t = results[-1]
        print(f"   {moment}: saved {t.saved}, logged {t.logged}, mid-write {t.mid_write}, "
              f"resumed at {t.resumed_at}, final {t.final_step}, corrupt {t.corrupt}, "
              f"same metrics {t.same_metrics} {t.notes}", flush=True)
    return _rows(results)


def _rows(results: list[Trial]) -> list[dict]:
    n = len(results)
    ok = sum(t.survived for t in results)
    lost = sum(t.lost_beyond_interval or t.final_step != STEPS for t in results)
    checkpoints = sum(t.checkpoints for t in results)
    corrupt = sum(len(t.corrupt) for t in results)
    writes = [t for t in results if t.moment.startswith("checkpoint write")]
    moments = ", ".join(f"{t.moment}: saved {t.saved}/logged {t.logged}" for t in results)

    def count(check, passed, goal, lost_count=None, notes=""):
        return row(CATEGORY, check, n, passed, n - passed if lost_count is None else lost_count,
                   goal, passed == n and not lost_count, notes)

    return [
        count(f"kill -9 at {n} random moments, then resume", ok, f"{n}/{n}", lost, moments),
        count("resumed at exactly the saved step", sum(t.resumed_exactly for t in results),
              f"{n}/{n}"),
        count(f"finished at step {STEPS}, each step logged once",
              sum(t.final_step == STEPS and t.steps_once for t in results), f"{n}/{n}"),
        row(CATEGORY, "checkpoints restorable after the kill", checkpoints,
            checkpoints - corrupt, corrupt, "0 corrupt", corrupt == 0,
            "; ".join(c for t in results for c in t.corrupt)),
        count(f"progress lost beyond one save interval ({CHECKPOINT_EVERY} steps)",
              sum(not t.lost_beyond_interval for t in results), "0 lost",
              sum(t.lost_beyond_interval for t in results),
              f"most lost: {max(t.logged - t.saved for t in results)} steps"),
        row(CATEGORY, "killed during a checkpoint write", len(writes),
            sum(t.survived for t in writes), sum(not t.survived for t in writes),
            f"{len(writes)}/{len(writes)}", all(t.survived for t in writes),
            f"{sum(t.mid_write for t in writes)} left temp files behind (caught mid-write)"),
        count("final test metrics equal an uninterrupted run", sum(t.same_metrics for t in
                                                                   results), f"{n}/{n}"),
    ]

"""Multi-worker fault: two `modelzoo train` workers on 127.0.0.1 (MultiWorkerMirroredStrategy);
one is killed with SIGKILL once the chief has saved a few checkpoints.

Survived: the other worker stops by itself within `STOP_BOUND` seconds (no hang), exits 1 with a
one-paragraph message (no traceback) that names the checkpoint to resume from; then both workers,
restarted with the same command, resume at exactly that checkpoint and finish. Tried twice:
killing the non-chief worker, then killing the chief.
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

from bench.reliability.common import (TINY_TRAIN, fresh, modelzoo, newest_checkpoint_step,
                                      prepared_data_dir, row)
from tests.engine_testlib import free_port

CATEGORY = "multi-worker"
STEPS, CHECKPOINT_EVERY = 400, 50
KILL_AFTER = 100  # the newest checkpoint step that must exist before the kill
STOP_BOUND = 90.0  # seconds the survivor may take to notice
ARGS = ["train", "shallownet", "--seed", "3", *TINY_TRAIN, "--set", f"train.steps={STEPS}",
        "--set", f"train.checkpoint_every={CHECKPOINT_EVERY}", "--set", "train.log_every=10"]


def _start(run_dir: Path, data_dir: Path, work: Path) -> list:
    hosts = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": hosts},
                                "task": {"type": "worker", "index": index}})
        workers.append(modelzoo([*ARGS, "--run-dir", str(run_dir)], data_dir, work,
                                env={"TF_CONFIG": tf_config}, background=True))
    return workers


def _stop(workers) -> list[str]:
    """Kill what still runs; the output of each worker."""
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGKILL)
    return [w.communicate()[0] or "" for w in workers]


def _round(victim: int, data_dir: Path, work: Path) -> tuple[dict, dict]:
    """(stop row fields, restart row fields) for killing worker `victim` (0 is the chief)."""
    run_dir = fresh(work / f"kill-{victim}") / "run"
    workers = _start(run_dir, data_dir, work)
    deadline = time.monotonic() + 300
    while newest_checkpoint_step(run_dir) < KILL_AFTER and all(w.poll() is None for w in workers) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    if newest_checkpoint_step(run_dir) < KILL_AFTER:
        _stop(workers)
        return {"ok": False, "notes": "the workers never reached the kill point"}, \
            {"ok": False, "notes": "not tried"}
    workers[victim].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    survivor = workers[1 - victim]
    while survivor.poll() is None and time.monotonic() - killed_at < STOP_BOUND:
        time.sleep(0.1)
    took = time.monotonic() - killed_at
    hung = survivor.poll() is None
    output = _stop(workers)[1 - victim]
    saved = newest_checkpoint_step(run_dir)
    message = next((line for line in output.splitlines() if "Lost contact" in line), "")
    stop_ok = (not hung and survivor.returncode == 1 and "Traceback" not in output
               and message and f"ckpt-{saved}" in output)
    stop = {"ok": bool(stop_ok),
            "notes": (f"stopped after {took:.0f} s, exit {survivor.returncode}: "
                      f"{message.strip()[:150]}") if not hung else f"HUNG for {took:.0f} s"}
    if not stop_ok and not hung:
        stop["notes"] += f" | {' '.join(output.split())[-300:]}"
    restarted = _start(run_dir, data_dir, work)
    outputs = [w.communicate(timeout=300)[0] for w in restarted]
    resumed = [re.search(r"Resuming at step (\d+)", out) for out in outputs]
    restart_ok = ([w.returncode for w in restarted] == [0, 0]
                  and all(r and int(r.group(1)) == saved for r in resumed)
                  and all(f"trained to step {STEPS}" in out for out in outputs))
    restart = {"ok": restart_ok,
               "notes": f"resumed at {[int(r.group(1)) if r else None for r in resumed]} "
                        f"(saved {saved}), exits {[w.returncode for w in restarted]}"}
    return stop, restart


def run(work: Path, quick: bool = False) -> list[dict]:
    data_dir = prepared_data_dir(work)
    rounds = {"worker 1": _round(1, data_dir, work)}
    if not quick:
        rounds["the chief"] = _round(0, data_dir, work)
    stops = [(who, s) for who, (s, _) in rounds.items()]
    restarts = [(who, r) for who, (_, r) in rounds.items()]
    n = len(rounds)

    def summary(check, items, goal):
        passed = sum(item["ok"] for _, item in items)
        notes = "; ".join(f"kill {who}: {item['notes']}" for who, item in items)
        return row(CATEGORY, check, n, passed, n - passed, goal, passed == n, notes)

    return [summary("kill one of two workers: the other stops with a clear message", stops,
                    f"exit 1, no traceback, < {STOP_BOUND:.0f} s, no hang"),
            summary("restart both: resume from the last checkpoint, finish", restarts,
                    "resumed at the saved step, both exit 0")]

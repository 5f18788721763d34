"""`modelzoo train` end to end on the real MNIST sample: accuracy, run dir, determinism, resume."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelzoo.cli import app
from tests.engine_testlib import SHORT, final_eval, modelzoo, records, without_timing

runner = CliRunner()


def train(args, data_dir):
    result = runner.invoke(app, ["train", "shallownet", "--data-dir", str(data_dir), *SHORT,
                                 *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def deterministic_run(sample_data_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("det") / "run"
    train(["--run-dir", str(run_dir), "--deterministic", "--seed", "7",
           "--set", "train.steps=120"], sample_data_dir)
    return run_dir


def test_run_dir_holds_config_env_metrics_events_checkpoints_and_curves(deterministic_run):
    files = {p.relative_to(deterministic_run).as_posix() for p in deterministic_run.rglob("*")}
    assert {"config.yaml", "env.json", "metrics.jsonl", "curves.png",
            "confusion_matrix.png", "checkpoints/ckpt-120.index"} <= files
    assert any(f.startswith("tb/train/events.out.tfevents") for f in files)
    assert any(f.startswith("tb/validation/events.out.tfevents") for f in files)
    assert "seed: 7" in (deterministic_run / "config.yaml").read_text()
    env = json.loads((deterministic_run / "env.json").read_text())
    assert {"tensorflow", "keras", "git_commit", "command", "strategy", "precision"} <= set(env)
    train_lines = records(deterministic_run, "train")
    assert [r["step"] for r in train_lines] == [20, 40, 60, 80, 100, 120]
    assert all(r["images_per_sec"] > 0 and "loss" in r and "accuracy" in r for r in train_lines)


def test_two_deterministic_runs_give_identical_metrics(deterministic_run, sample_data_dir,
                                                       tmp_path):
    again = tmp_path / "again"
    train(["--run-dir", str(again), "--deterministic", "--seed", "7",
           "--set", "train.steps=120"], sample_data_dir)
    first = [without_timing(r) for r in records(deterministic_run, "train")]
    second = [without_timing(r) for r in records(again, "train")]
    assert first == second
    assert without_timing(final_eval(again)) == without_timing(final_eval(deterministic_run))


def test_resume_restores_step_weights_and_data_position(deterministic_run, sample_data_dir,
                                                        tmp_path):
    """Stop at 60, rerun into the same dir to 120: same final metrics as one 120-step run."""
    run_dir = tmp_path / "resumed"
    common = ["--run-dir", str(run_dir), "--deterministic", "--seed", "7"]
    train([*common, "--set", "train.steps=60"], sample_data_dir)
    result = train([*common, "--set", "train.steps=120"], sample_data_dir)
    assert "Resuming at step 60" in result.output
    assert [r["step"] for r in records(run_dir, "train")][-3:] == [80, 100, 120]
    resumed, straight = final_eval(run_dir), final_eval(deterministic_run)
    assert resumed["step"] == straight["step"] == 120
    assert resumed["loss"] == pytest.approx(straight["loss"], abs=1e-6)
    assert resumed["accuracy"] == straight["accuracy"]


def test_resume_flag_without_checkpoint_is_a_usage_error(sample_data_dir, tmp_path):
    result = runner.invoke(app, ["train", "shallownet", "--resume", "--run-dir",
                                 str(tmp_path / "empty"), "--data-dir", str(sample_data_dir)])
    assert result.exit_code == 2
    assert "no checkpoint" in result.output


def test_diverging_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(
        sample_data_dir, tmp_path):
    run_dir = tmp_path / "nan"
    result = runner.invoke(app, ["train", "shallownet", "--run-dir", str(run_dir), "--data-dir",
                                 str(sample_data_dir), *SHORT, "--set", "train.steps=100",
                                 "--set", "train.optimizer.learning_rate=1e30"])
    assert result.exit_code == 1, result.output
    assert "Training diverged" in result.output and "learning_rate" in result.output
    assert not list((run_dir / "checkpoints").glob("ckpt-*"))  # nothing saved after NaN


def test_eager_mode_trains(sample_data_dir, tmp_path):
    train(["--run-dir", str(tmp_path / "eager"), "--eager", "--set", "train.steps=4",
           "--set", "train.log_every=2"], sample_data_dir)
    assert final_eval(tmp_path / "eager")["step"] == 4


def test_augmentation_is_checkpointed_and_resumes_exactly(sample_data_dir, tmp_path):
    """Steps 3-4 of a run resumed at step 2 draw the transforms an unbroken run draws there."""
    import tensorflow as tf

    common = ["--deterministic", "--seed", "5", "--set", "data.augment=true",
              "--set", "train.log_every=2", "--set", "train.checkpoint_every=2"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(["--run-dir", str(straight), *common, "--set", "train.steps=4"], sample_data_dir)
    train(["--run-dir", str(resumed), *common, "--set", "train.steps=2"], sample_data_dir)
    train(["--run-dir", str(resumed), *common, "--set", "train.steps=4"], sample_data_dir)
    names = [n for n, _ in tf.train.list_variables(str(resumed / "checkpoints"))]
    assert any(n.startswith("augment/") for n in names)
    last = [records(run, "train")[-1] for run in (straight, resumed)]
    assert last[0]["step"] == last[1]["step"] == 4
    assert last[1]["loss"] == pytest.approx(last[0]["loss"], abs=1e-6)


def test_mixed_float16_trains_with_a_float32_output(sample_data_dir, tmp_path):
    train(["--run-dir", str(tmp_path / "mixed"), "--precision", "mixed_float16",
           "--set", "train.steps=40"], sample_data_dir)
    assert final_eval(tmp_path / "mixed")["accuracy"] > 0.5
    env = json.loads((tmp_path / "mixed" / "env.json").read_text())
    assert env["precision"] == "mixed_float16"


def _wait_for_checkpoint(run_dir: Path, at_least: int, process, timeout: float = 120) -> int:
    import tensorflow as tf

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
        if latest and int(latest.rsplit("-", 1)[1]) >= at_least:
            return int(latest.rsplit("-", 1)[1])
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint >= {at_least}: {process.communicate()[0]}")


def test_kill_9_then_rerun_resumes_to_the_same_final_step(sample_data_dir, tmp_path):
    run_dir = tmp_path / "killed"
    args = ["train", "shallownet", "--run-dir", str(run_dir), "--seed", "3", *SHORT,
            "--set", "train.steps=400"]
    process = modelzoo(args, sample_data_dir, tmp_path, background=True)
    saved = _wait_for_checkpoint(run_dir, 40, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert saved < 400
    result = modelzoo(args, sample_data_dir, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Resuming at step" in result.stderr
    assert (run_dir / "checkpoints" / "ckpt-400.index").is_file()
    assert final_eval(run_dir)["step"] == 400


def test_sigterm_saves_a_checkpoint_and_exits_1(sample_data_dir, tmp_path):
    run_dir = tmp_path / "terminated"
    process = modelzoo(["train", "shallownet", "--run-dir", str(run_dir), *SHORT,
                        "--set", "train.steps=100000"], sample_data_dir, tmp_path,
                       background=True)
    _wait_for_checkpoint(run_dir, 20, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1, output
    assert "Stopped by SIGTERM" in output and "--run-dir" in output
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    assert latest and int(latest.rsplit("-", 1)[1]) % 20 == 0

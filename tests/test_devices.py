"""Devices and strategies: flag parsing, TF_CONFIG validation, clear errors (exit 2), and
mirrored (two logical CPUs) and multi-worker (two local processes) training that matches one
device. Tolerance: final test loss and accuracy within 0.01 of the one-device run (the replicas
see the same global batches; only the order of float sums differs)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelzoo import devices
from modelzoo.cli import app
from modelzoo.errors import DeviceError, UsageError
from tests.engine_testlib import SHORT, final_eval, free_port, modelzoo

runner = CliRunner()
TOLERANCE = 0.01
DISTRIBUTED_RUN = ["train", "shallownet", "--seed", "11", "--deterministic", *SHORT,
                   "--set", "train.steps=60"]


@pytest.mark.parametrize("spec, expected", [
    ("auto", devices.DeviceRequest("auto")),
    ("cpu", devices.DeviceRequest("cpu")),
    ("cpu:2", devices.DeviceRequest("cpu", cpu_replicas=2)),
    ("gpu", devices.DeviceRequest("gpu")),
    ("gpu:1", devices.DeviceRequest("gpu", gpu_indices=(1,))),
    ("GPU:0,1", devices.DeviceRequest("gpu", gpu_indices=(0, 1))),
])
def test_parse_device(spec, expected):
    assert devices.parse_device(spec) == expected


@pytest.mark.parametrize("spec", ["tpu", "gpu:x", "cpu:0", "auto:1", ""])
def test_parse_device_rejects_nonsense(spec):
    with pytest.raises(UsageError, match="--device"):
        devices.parse_device(spec)


GOOD = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}


@pytest.mark.parametrize("raw, message", [
    ("{not json", "not valid JSON"),
    ("[]", "JSON object"),
    (json.dumps({"task": GOOD["task"]}), "no `cluster`"),
    (json.dumps({"cluster": {"worker": "a:1"}, "task": GOOD["task"]}), "list of 'host:port'"),
    (json.dumps({"cluster": GOOD["cluster"]}), "no `task`"),
    (json.dumps({**GOOD, "task": {"type": "ps", "index": 0}}), "not a job"),
    (json.dumps({**GOOD, "task": {"type": "worker", "index": 2}}), "out of range"),
])
def test_broken_tf_config_is_named(raw, message):
    with pytest.raises(DeviceError, match=message) as info:
        devices.read_tf_config({"TF_CONFIG": raw})
    assert "TF_CONFIG" in str(info.value)


def test_tf_config_roles():
    config = devices.read_tf_config({"TF_CONFIG": json.dumps(GOOD)})
    assert not devices.is_chief_task(config)
    assert devices.is_chief_task({**GOOD, "task": {"type": "worker", "index": 0}})
    assert devices.role(config) == "worker 1 of 2 tasks"


@pytest.mark.parametrize("args, env, message", [
    (["--strategy", "multi-worker"], {}, "needs TF_CONFIG"),
    (["--strategy", "ring"], {}, "--strategy"),
    (["--device", "tpu"], {}, "--device"),
    (["--precision", "float8"], {}, "--precision"),
    ([], {"TF_CONFIG": '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", '
                       '"index": 5}}'}, "TF_CONFIG task.index 5"),
])
def test_bad_flags_exit_2_with_a_message(args, env, message, sample_data_dir, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(app, ["train", "shallownet", "--data-dir", str(sample_data_dir), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_unknown_config_exits_2_with_suggestion():
    result = runner.invoke(app, ["train", "shalownet"])
    assert result.exit_code == 2
    assert "shallownet" in result.output


def test_gpu_without_a_gpu_exits_2(sample_data_dir, tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    result = runner.invoke(app, ["train", "shallownet", "--device", "gpu", "--run-dir",
                                 str(tmp_path / "run"), "--data-dir", str(sample_data_dir)])
    assert result.exit_code == 2
    assert "no GPU" in result.output and "--device cpu" in result.output


@pytest.fixture(scope="module")
def one_device(sample_data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("one")
    result = modelzoo([*DISTRIBUTED_RUN, "--device", "cpu", "--run-dir", str(folder / "run")],
                      sample_data_dir, folder)
    assert result.returncode == 0, result.stderr
    return final_eval(folder / "run")


def assert_close(got: dict, expected: dict) -> None:
    assert got["step"] == expected["step"] == 60
    assert abs(got["accuracy"] - expected["accuracy"]) <= TOLERANCE
    assert abs(got["loss"] - expected["loss"]) <= TOLERANCE


def test_mirrored_over_two_logical_cpus_matches_one_device(one_device, sample_data_dir, tmp_path):
    result = modelzoo([*DISTRIBUTED_RUN, "--device", "cpu:2", "--run-dir", str(tmp_path / "run")],
                      sample_data_dir, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "MirroredStrategy over 2 devices" in result.stderr
    assert_close(final_eval(tmp_path / "run"), one_device)


def test_multi_worker_with_two_local_workers_matches_one_device(one_device, sample_data_dir,
                                                                tmp_path):
    hosts = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": hosts},
                                "task": {"type": "worker", "index": index}})
        workers.append(modelzoo([*DISTRIBUTED_RUN, "--device", "cpu", "--run-dir",
                                 str(tmp_path / "run")], sample_data_dir, tmp_path,
                                env={"TF_CONFIG": tf_config}, background=True))
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert "worker 0 of 2 tasks (chief" in outputs[0]
    assert "worker 1 of 2 tasks" in outputs[1]
    assert "trained to step 60" in outputs[0], outputs[0]
    assert "trained to step 60" in outputs[1], outputs[1]
    assert_close(final_eval(tmp_path / "run"), one_device)
    # only the chief wrote the run dir: one set of events, checkpoints from one writer
    assert len(list((tmp_path / "run" / "tb" / "train").glob("events*"))) == 1

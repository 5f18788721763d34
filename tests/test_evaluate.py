"""`modelzoo eval` restores everything a BatchNorm model needs: its report equals the engine's
own final evaluation at the end of training (same checkpoint, same numbers)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelzoo.cli import app
from modelzoo.evaluate import check_gates, parse_gates
from modelzoo.errors import GateError, UsageError
from tests.engine_testlib import final_eval

runner = CliRunner()


def test_eval_of_a_batchnorm_model_matches_the_end_of_training(sample_data_dir, tmp_path):
    run_dir = tmp_path / "vgg"
    result = runner.invoke(app, ["train", "minivggnet", "--run-dir", str(run_dir), "--data-dir",
                                 str(sample_data_dir), "--set", "train.steps=20",
                                 "--set", "train.batch_size=16", "--set", "train.log_every=10"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["eval", "--run-dir", str(run_dir), "--data-dir",
                                 str(sample_data_dir), "--json", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    report, trained = json.loads((tmp_path / "e.json").read_text()), final_eval(run_dir)
    assert report["loss"] == pytest.approx(trained["loss"], rel=1e-5)
    assert report["accuracy"] == pytest.approx(trained["accuracy"], abs=1e-6)


def test_gates():
    gates = parse_gates(["accuracy=0.9", "loss = 0.5"])
    assert gates == {"accuracy": 0.9, "loss": 0.5}
    check_gates({"accuracy": 0.95, "loss": 0.7}, {"accuracy": 0.9})
    with pytest.raises(GateError, match="accuracy 0.8000 < 0.9"):
        check_gates({"accuracy": 0.8}, {"accuracy": 0.9})
    with pytest.raises(UsageError, match="METRIC=VALUE"):
        parse_gates(["accuracy>0.9"])

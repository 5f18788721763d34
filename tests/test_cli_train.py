"""The "done when" path: `modelzoo train shallownet` then `modelzoo eval shallownet
--fail-under accuracy=0.85` on the real sample, plus eval gating exit codes, export and inspect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelzoo.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(sample_data_dir, tmp_path_factory):
    """A working directory where `modelzoo train shallownet` (the shipped config) has run."""
    folder = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("MODELZOO_DATA_DIR", str(sample_data_dir))
        result = runner.invoke(app, ["train", "shallownet"])
        assert result.exit_code == 0, result.output
        yield folder


@pytest.fixture
def in_workdir(workdir, sample_data_dir, monkeypatch):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("MODELZOO_DATA_DIR", str(sample_data_dir))
    return workdir


def run_dir(workdir: Path) -> Path:
    (found,) = [p for p in (workdir / "runs" / "shallownet").iterdir() if p.name != "inspect"]
    return found


def test_eval_by_config_name_passes_the_gate_and_writes_flat_json(in_workdir):
    result = runner.invoke(app, ["eval", "shallownet", "--fail-under", "accuracy=0.85",
                                 "--json", "report/eval.json"])
    assert result.exit_code == 0, result.output
    report = json.loads((in_workdir / "report" / "eval.json").read_text())
    assert report["accuracy"] >= 0.85
    assert report["examples"] == 1000 and report["split"] == "test"
    assert report["model"] == "shallownet" and report["dataset"] == "mnist"
    assert report["checkpoint"].endswith("ckpt-300")
    assert all(isinstance(v, (int, float, str)) for v in report.values())  # flat
    assert (in_workdir / "report" / "confusion_matrix.png").is_file()


def test_eval_gate_missed_exits_1(in_workdir):
    result = runner.invoke(app, ["eval", "--run-dir", str(run_dir(in_workdir)),
                                 "--fail-under", "accuracy=0.9999", "--fail-under", "loss=0"])
    assert result.exit_code == 1
    assert "below threshold" in result.output and "accuracy" in result.output


@pytest.mark.parametrize("args, message", [
    (["--fail-under", "recall=0.5"], "does not report"),
    (["--fail-under", "accuracy"], "METRIC=VALUE"),
    (["--checkpoint", "nope/ckpt-1"], "not a checkpoint"),
])
def test_eval_usage_errors_exit_2(in_workdir, args, message):
    result = runner.invoke(app, ["eval", "--run-dir", str(run_dir(in_workdir)), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_eval_best_checkpoint_and_other_split(in_workdir):
    result = runner.invoke(app, ["eval", "shallownet", "--checkpoint", "best", "--split",
                                 "train", "--json", "train.json"])
    assert result.exit_code == 0, result.output
    report = json.loads((in_workdir / "train.json").read_text())
    assert report["split"] == "train" and report["examples"] == 6000


def test_eval_without_runs_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eval", "shallownet"])
    assert result.exit_code == 2
    assert "modelzoo train shallownet" in result.output


@pytest.mark.parametrize("fmt, name", [("keras", "model.keras"), ("savedmodel", "savedmodel")])
def test_export_reloads_and_matches(in_workdir, fmt, name):
    run = run_dir(in_workdir)
    for _ in range(2):  # the second export replaces the first (a file, or a whole folder)
        result = runner.invoke(app, ["export", "--run-dir", str(run), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "reloaded and matched" in result.output
    # It is in place, and no temp name or set-aside old copy (both hidden) is left beside it.
    assert (run / "export" / name).exists()
    assert [p.name for p in (run / "export").iterdir() if p.name.startswith(".")] == []


def test_export_bad_format_exits_2(in_workdir):
    result = runner.invoke(app, ["export", "--run-dir", str(run_dir(in_workdir)),
                                 "--format", "onnx"])
    assert result.exit_code == 2


def test_inspect_prints_parameters_and_writes_the_graph(in_workdir, tmp_path):
    result = runner.invoke(app, ["inspect", "shallownet", "--out", str(tmp_path / "graph")])
    assert result.exit_code == 0, result.output
    assert "251,210" in result.output and "classifier" in result.output
    assert list((tmp_path / "graph").glob("events.out.tfevents*"))

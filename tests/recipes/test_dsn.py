"""The DSN recipe through the engine on the real sample: a short run, eval, and reproduce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelzoo.runs import read_metrics

pytest.importorskip("tensorflow")

pytestmark = pytest.mark.slow  # trains (briefly)

# Long enough that the logged averages fall clearly (at 60 steps the classification loss could
# still rise between the first and last 20-step windows while the task accuracy doubled).
STEPS = 150
SHORT = [f"train.steps={STEPS}", "train.log_every=50", "train.eval_every=0", "dsn.warmup_steps=0",
         f"train.checkpoint_every={STEPS}", "eval.batch_size=500"]


@pytest.fixture(scope="module")
def dsn_run(sample_data_dir, tmp_path_factory):
    from modelzoo.training import train

    run_dir = tmp_path_factory.mktemp("dsn") / "run"
    result = train("dsn", overrides=SHORT, data_dir=sample_data_dir, run_dir=run_dir,
                   device="cpu", seed=0)
    return result


def _train_lines(run_dir):
    return [line for line in read_metrics(run_dir) if line["phase"] == "train"]


def test_losses_fall_and_every_term_is_logged(dsn_run):
    first, *_, last = _train_lines(dsn_run.run_dir)
    for term in ("classification", "similarity", "difference", "reconstruction",
                 "weight_decay", "domain_accuracy"):
        assert term in first
    assert last["loss"] < first["loss"]
    assert last["classification"] < first["classification"]
    assert last["reconstruction"] < first["reconstruction"]


def test_training_monitors_the_target_validation_split(dsn_run):
    final = dsn_run.final
    assert final["split"] == "valid" and final["step"] == STEPS
    assert 0.0 <= final["accuracy"] <= 1.0
    best = json.loads((dsn_run.run_dir / "checkpoints" / "best" / "best.json").read_text())
    assert best["monitor"] == "accuracy" and best["split"] == "valid"


def test_the_reconstruction_picture_is_written(dsn_run):
    from PIL import Image

    picture = Image.open(dsn_run.run_dir / "reconstructions.png")
    # 8 rows of 32 px (x2); two panels of 4 columns of 32 px and a 4 px gap (x2).
    assert picture.size == (2 * (8 * 32 + 4), 2 * 8 * 32)


def test_eval_json_has_the_documented_keys(dsn_run, sample_data_dir, tmp_path):
    from modelzoo.cli import app

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", "--run-dir", str(dsn_run.run_dir), "--checkpoint",
                                      "best", "--json", str(out), "--data-dir",
                                      str(sample_data_dir), "--fail-under", "accuracy=0.0"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {"accuracy", "source_accuracy", "domain_accuracy"} <= set(report)
    assert report["split"] == "test" and report["dataset"] == "mnist_m"
    assert report["examples"] == 1000  # the MNIST-M test images `accuracy` is measured on
    assert report["source_examples"] == 1000  # MNIST test, for `source_accuracy`


def test_domain_classifiers_on_two_layers_with_clipping(sample_data_dir, tmp_path):
    """`dsn.domain_classifier_on=[fc3,pool2]` trains one classifier per layer, each weighted
    gamma, so the similarity term starts near 2·gamma·ln 2; both are checkpointed."""
    import math

    import tensorflow as tf

    from modelzoo.training import train

    steps = ["train.steps=40", "train.log_every=20", "train.eval_every=0", "dsn.warmup_steps=0",
             "train.checkpoint_every=40", "eval.batch_size=500", "dsn.gamma=0.25"]
    result = train("dann", overrides=[*steps, "dsn.domain_classifier_on=[fc3,pool2]",
                                      "dsn.clip_global_norm=2"],
                   data_dir=sample_data_dir, run_dir=tmp_path / "run", device="cpu", seed=0)
    first = _train_lines(result.run_dir)[0]
    assert first["similarity"] > 1.5 * 0.25 * math.log(2)  # one classifier alone: about 0.17
    assert 0.0 <= result.final["domain_accuracy"] <= 1.0
    checkpoint = tf.train.latest_checkpoint(str(result.run_dir / "checkpoints"))
    saved = {name.split("/")[0] for name, _ in tf.train.list_variables(checkpoint)}
    assert {"domain_classifier", "pool2_domain_classifier"} <= saved


def test_reproduce_table_on_a_tiny_budget(sample_data_dir, tmp_path):
    from modelzoo.reproduce import PAPER, reproduce_dsn_table

    rows = reproduce_dsn_table(steps=4, overrides=["train.log_every=2", "train.eval_every=0",
                                                   "dsn.warmup_steps=2"],
                               data_dir=sample_data_dir, out_dir=tmp_path)
    by_method = {row.method: row for row in rows}
    assert list(by_method) == list(PAPER)
    for method, row in by_method.items():
        assert row.paper == PAPER[method]
        [run] = row.runs  # one seed by default: seed 0
        assert run.seed == 0 and run.steps == 4 and 0.0 <= row.ours <= 100.0
        assert row.ours == run.accuracy and row.std is None
        assert row.difference == pytest.approx(row.ours - row.paper, abs=0.051)
    table = (tmp_path / "dsn_table.md").read_text()
    assert "| DSN w/ DANN | 83.2 |" in table and "Protocol: seed 0;" in table
    payload = json.loads((tmp_path / "dsn_table.json").read_text())
    assert [r["method"] for r in payload["rows"]] == list(PAPER)
    assert payload["protocol"]["seeds"] == [0]


def test_reproduce_reports_mean_and_spread_over_seeds(sample_data_dir, tmp_path):
    import statistics

    from modelzoo.reproduce import reproduce_dsn_table

    rows = reproduce_dsn_table(steps=20, seeds=(0, 1, 1), methods=("source_only",),
                               overrides=["train.log_every=10", "train.eval_every=0"],
                               data_dir=sample_data_dir, out_dir=tmp_path)
    source_only = rows[0]
    assert [run.seed for run in source_only.runs] == [0, 1]  # the repeated seed runs once
    accuracies = [run.accuracy for run in source_only.runs]
    assert source_only.ours == round(statistics.fmean(accuracies), 1)
    assert source_only.std == round(statistics.stdev(accuracies), 1)
    run_dirs = {run.run_dir for run in source_only.runs}
    assert run_dirs == {str(tmp_path / "runs" / "source_only" / f"seed{s}") for s in (0, 1)}
    for run in source_only.runs:  # each run trained with its own seed
        assert f"seed: {run.seed}" in (Path(run.run_dir) / "config.yaml").read_text()
    assert all(row.runs == [] and row.ours is None for row in rows[1:])  # not selected

    table = (tmp_path / "dsn_table.md").read_text()
    per_seed = ", ".join(f"{run.accuracy:.1f} ({run.best_step})" for run in source_only.runs)
    assert (f"| Source-only | 56.6 | {source_only.ours:.1f} ± {source_only.std:.1f} | "
            f"{source_only.difference:+.1f} | {per_seed} | 20 |") in table
    assert "Protocol: seeds 0, 1 (ours: mean ± sample standard deviation)" in table
    payload = json.loads((tmp_path / "dsn_table.json").read_text())
    assert payload["protocol"]["seeds"] == [0, 1]
    assert [run["seed"] for run in payload["rows"][0]["runs"]] == [0, 1]
    assert payload["rows"][0]["std"] == source_only.std


def test_reproduce_needs_a_seed(tmp_path):
    from modelzoo.errors import UsageError
    from modelzoo.reproduce import reproduce_dsn_table

    with pytest.raises(UsageError, match="at least one seed"):
        reproduce_dsn_table(seeds=(), out_dir=tmp_path)

"""The `modelzoo` command line: parse, call the library, print. Nothing else lives here.

TensorFlow is imported inside command bodies only, so `--help`, `list` and `config show` stay fast.
Errors: a `ModelzooError` becomes a panel (plain text when not a TTY) and its exit code
(2 usage/config, 1 runtime); anything else is a bug and keeps its traceback. `--debug` shows the
traceback for every error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from modelzoo import files, ui
from modelzoo.errors import ModelzooError, UsageError

_state = {"debug": False}


class _FriendlyGroup(TyperGroup):
    """The one place where library errors become messages and exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ModelzooError as err:
            if _state["debug"]:
                raise
            ui.print_error(err.title, err.message, err.fix)
            raise typer.Exit(code=err.exit_code) from None


app = typer.Typer(cls=_FriendlyGroup, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False, rich_markup_mode=None,
                  help="The TensorFlow model zoo in two lines: download data, train, evaluate.")
config_app = typer.Typer(cls=_FriendlyGroup, no_args_is_help=True,
                         help="Inspect experiment configs.")
app.add_typer(config_app, name="config")

SetOption = Annotated[list[str], typer.Option("--set", help="Override a config value: "
                      "KEY=VALUE, parsed as YAML (e.g. train.steps=200, data.image_size=[32,32]).")]
DataDirOption = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Where prepared datasets live (default $MODELZOO_DATA_DIR, "
    "else ~/.cache/modelzoo).")]


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False):
    """modelzoo: run the models of the TensorFlow model zoo without Bazel or sys.path tricks.

    Example: modelzoo download --dataset mnist && modelzoo train shallownet
    """
    _state["debug"] = debug


# --------------------------------------------------------------------------- list / config


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="models, datasets, configs or recipes "
                                            "(default: all).")] = "all",
    pattern: Annotated[Optional[str], typer.Option(help="Shell wildcard, e.g. 'mini*'.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
):
    """List registered models, datasets (and whether each is ready), configs and recipes.

    Example: modelzoo list datasets --json
    """
    from modelzoo import catalog

    kinds = ("models", "datasets", "configs", "recipes")
    if what != "all" and what not in kinds:
        raise UsageError(f"Cannot list {what!r}: choose one of {', '.join(kinds)}.",
                         fix="modelzoo list models")
    tables = catalog.listing(kinds if what == "all" else (what,), pattern, data_dir)
    if as_json:
        ui.out.print_json(json.dumps(tables))
        return
    for kind, rows in tables.items():
        ui.out.print(catalog.render(kind, rows))


@config_app.command("show")
def config_show(
    name: Annotated[str, typer.Argument(help="Config name (e.g. dsn) or path to a YAML file.")],
    overrides: SetOption = [],
):
    """Print the resolved config (bases merged, defaults filled); `# --set` marks overrides.

    Example: modelzoo config show dsn --set train.steps=500
    """
    from modelzoo import config

    loaded = config.load(name, overrides)
    ui.out.print(f"# {loaded.path}", markup=False)
    ui.out.print(config.to_yaml(loaded.config.to_dict(), loaded.origins), markup=False, end="")


# --------------------------------------------------------------------------- data


@app.command()
def download(
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name "
                                         "(modelzoo list datasets).")],
    data_dir: DataDirOption = None,
    source: Annotated[Optional[str], typer.Option(
        "--from", help="Local folder (or .tgz) holding the upstream files, or the base URL "
        "of a mirror. Use it offline.")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the dataset is ready.")] = False,
):
    """Fetch, verify (sha256), convert and cache a dataset.

    Example: modelzoo download --dataset mnist --from ../shared/data/mnist
    """
    from modelzoo import datasets, paths

    target = datasets.download(dataset, paths.data_dir(data_dir), source=source, force=force)
    ui.out.print(f"{dataset} ready in {target}", markup=False)


@app.command()
def env():
    """Show Python, TensorFlow and Keras versions and the devices TensorFlow sees.

    Example: modelzoo env
    """
    from modelzoo import environment

    info = environment.describe()
    width = max(len(k) for k in info)
    for key, value in info.items():
        ui.out.print(f"{key:<{width}}  {value}", markup=False)


# --------------------------------------------------------------------------- train / eval / export


@app.command()
def train(
    name: Annotated[str, typer.Argument(help="Config name (e.g. shallownet) or path to a YAML file.")],
    overrides: SetOption = [],
    device: Annotated[str, typer.Option(help="auto, cpu, cpu:N (N logical CPU replicas), gpu, "
                                        "gpu:N or gpu:0,1.")] = "auto",
    strategy: Annotated[str, typer.Option(help="auto, one, mirrored or multi-worker "
                                          "(multi-worker reads TF_CONFIG).")] = "auto",
    precision: Annotated[str, typer.Option(help="float32, mixed_float16 or mixed_bfloat16.")]
    = "float32",
    run_dir: Annotated[Optional[Path], typer.Option(help="Where the run writes (default "
                       "runs/<config>/<time>); reusing one resumes from its checkpoints.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Resume the run dir (default: the "
                      "newest run of this config) from its newest checkpoint.")] = False,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the config's, "
                    "else drawn and recorded in the run dir).")] = None,
    deterministic: Annotated[bool, typer.Option("--deterministic", help="Seed everything and "
                             "enable TensorFlow op determinism: reruns give identical metrics.")]
    = False,
    eager: Annotated[bool, typer.Option("--eager", help="Run steps eagerly (no tf.function), to "
                     "step through with pdb and print tensors. Slow.")] = False,
    data_dir: DataDirOption = None,
):
    """Train a config: checkpoints, TensorBoard events, metrics.jsonl and curves in a run dir.

    Exit codes: 0 done; 1 training stopped (NaN loss, SIGTERM: a checkpoint is kept) or data
    missing; 2 bad flags, config or devices.

    Example: modelzoo train shallownet --set train.steps=500 --device cpu
    """
    from modelzoo import training

    result = training.train(name, overrides=overrides, device=device, strategy=strategy,
                            precision=precision, run_dir=run_dir, resume=resume, seed=seed,
                            deterministic=deterministic, eager=eager, data_dir=data_dir)
    values = " ".join(f"{k} {v:.4f}" for k, v in result.final.items() if isinstance(v, float))
    ui.out.print(f"trained to step {result.final['step']}: {result.final['split']} {values}",
                 markup=False)
    ui.out.print(f"run dir: {result.run_dir}", markup=False)


@app.command("eval")
def eval_(
    name: Annotated[Optional[str], typer.Argument(help="Config name: evaluates its newest run "
                    "under runs/. Or use --run-dir.")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="The run to evaluate.")] = None,
    checkpoint: Annotated[Optional[str], typer.Option(help="latest (default), best, or a "
                          "checkpoint path such as RUN/checkpoints/ckpt-300.")] = None,
    split: Annotated[Optional[str], typer.Option(help="Split to evaluate (default: the "
                     "config's eval.split, usually test).")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the report "
                         "as flat JSON to this file.")] = None,
    fail_under: Annotated[list[str], typer.Option("--fail-under", help="METRIC=VALUE: exit 1 "
                          "if METRIC is below VALUE (repeatable).")] = [],
    data_dir: DataDirOption = None,
):
    """Evaluate a trained run; a table on screen, optional JSON, and a gate for CI.

    Exit codes: 0 evaluated (every --fail-under met); 1 a threshold was missed, or data is
    missing; 2 bad flags or no such run/checkpoint. Classifiers also write confusion_matrix.png
    (next to --json, else in the run dir).

    Example: modelzoo eval shallownet --fail-under accuracy=0.85 --json eval.json
    """
    from rich.table import Table

    from modelzoo import evaluate

    gates = evaluate.parse_gates(fail_under)
    pictures = json_path.parent if json_path else None
    report = evaluate.evaluate(name, run_dir=run_dir, checkpoint=checkpoint, split=split,
                               data_dir=data_dir, pictures_dir=pictures)
    table = Table(title=f"{report['model']} on {report['dataset']}/{report['split']} "
                  f"({report['examples']} examples, step {report['step']})", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("gate")
    for key, value in report.items():
        if isinstance(value, float):
            gate = (f">= {gates[key]} {'ok' if value >= gates[key] else 'FAILED'}"
                    if key in gates else "")
            table.add_row(key, f"{value:.4f}", gate)
    ui.out.print(table)
    ui.out.print(f"checkpoint: {report['checkpoint']}", markup=False)
    if json_path:
        files.write_json(json_path, report)
        ui.out.print(f"wrote {json_path}", markup=False)
    evaluate.check_gates(report, gates)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Option(help="The trained run to export.")],
    format: Annotated[str, typer.Option("--format", help="keras (.keras file) or savedmodel "
                      "(TF SavedModel with a `serve` signature).")] = "keras",
    out: Annotated[Optional[Path], typer.Option(help="Output path (default RUN/export/"
                   "model.keras or RUN/export/savedmodel).")] = None,
    data_dir: DataDirOption = None,
):
    """Export a run's inference network, reload it and check it computes the same outputs.

    Example: modelzoo export --run-dir runs/shallownet/20250101-120000 --format savedmodel
    """
    from modelzoo import export as export_module

    result = export_module.export(run_dir, format, out, data_dir=data_dir)
    ui.out.print(f"exported {result.format} to {result.path} (checkpoint {result.checkpoint}); "
                 f"reloaded and matched on {result.batch} images (max |diff| "
                 f"{result.max_abs_diff:.2g})", markup=False)


@app.command()
def inspect(
    name: Annotated[str, typer.Argument(help="Config name or path to a YAML file.")],
    overrides: SetOption = [],
    out: Annotated[Optional[Path], typer.Option(help="TensorBoard log dir for the graph "
                   "(default runs/<config>/inspect).")] = None,
):
    """Layer summaries, parameter counts per network, and the traced graph for TensorBoard.

    Example: modelzoo inspect minigooglenet && tensorboard --logdir runs/minigooglenet/inspect
    """
    from rich.table import Table

    from modelzoo import inspect_model

    report = inspect_model.inspect(name, overrides, out)
    for network in report.networks:
        ui.out.print(network.summary, markup=False)
    table = Table(title=f"{report.config}: parameters", title_justify="left")
    for column in ("network", "trainable", "non-trainable", "total"):
        table.add_column(column, justify="left" if column == "network" else "right")
    for n in report.networks:
        table.add_row(n.name, f"{n.trainable:,}", f"{n.non_trainable:,}",
                      f"{n.trainable + n.non_trainable:,}")
    ui.out.print(table)
    ui.out.print(f"graph for TensorBoard: tensorboard --logdir {report.graph_dir}", markup=False)


reproduce_app = typer.Typer(cls=_FriendlyGroup, no_args_is_help=True,
                            help="Reproduce a paper's results table side by side.")
app.add_typer(reproduce_app, name="reproduce")


@reproduce_app.command("dsn-table")
def reproduce_dsn_table(
    steps: Annotated[Optional[int], typer.Option(help="Training steps for every method "
                     "(default: the configs' sample-protocol budget).")] = None,
    seeds: Annotated[list[int], typer.Option("--seed", help="Seed of every method's run; "
                     "repeat it (--seed 0 --seed 1 --seed 2) to run each method once per seed "
                     "and report mean ± standard deviation.")] = [0],
    overrides: SetOption = [],
    data_dir: DataDirOption = None,
    out_dir: Annotated[Optional[Path], typer.Option(help="Where the table and the run dirs "
                       "go (default runs/reproduce/dsn-table-<time>); reusing one "
                       "resumes its runs.")] = None,
):
    """DSN paper Table 1 (MNIST -> MNIST-M): source-only, MMD, DANN, DSN w/ MMD, DSN w/ DANN
    and target-only trained under one protocol; prints and writes method | paper | ours |
    difference.

    Example: modelzoo reproduce dsn-table --steps 2000 --seed 0 --seed 1 --set train.eval_every=500
    """
    from modelzoo import reproduce

    reproduce.reproduce_dsn_table(steps=steps, overrides=tuple(overrides), data_dir=data_dir,
                                  out_dir=out_dir, seeds=tuple(seeds))


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Option(help="A trained GAN run (e.g. runs/dcgan/<time>).")],
    num: Annotated[int, typer.Option(help="How many images; the grid is as square as it can "
                   "be.")] = 64,
    seed: Annotated[int, typer.Option(help="Noise seed: the same seed and checkpoint give the "
                    "same grid.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="PNG to write (default "
                   "RUN/sample_seed<seed>_n<num>.png).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="A checkpoint such as "
                          "RUN/checkpoints/ckpt-3000 (default: the newest).")] = None,
):
    """Write a grid PNG of new samples from a GAN run's newest (or given) generator checkpoint.

    Example: modelzoo sample --run-dir runs/dcgan/20260101-120000 --num 64 --seed 1 --out grid.png
    """
    from modelzoo import sample as sample_module

    path = sample_module.sample(run_dir, num=num, seed=seed, out=out, checkpoint=checkpoint)
    ui.out.print(f"wrote {num} samples to {path}", markup=False)


def main() -> None:
    """Console-script entry point."""
    # Quiets TensorFlow's C++ info/warning logs (the few lines absl prints before it is
    # initialised cannot be silenced from Python).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app(prog_name="modelzoo")


if __name__ == "__main__":
    sys.exit(main())

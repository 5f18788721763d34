"""The `modelzoo` command line: parse, call the library, print. Nothing else lives here.

TensorFlow is imported inside command bodies only, so `--help`, `list` and `config show` stay fast.
Errors: a `ModelzooError` becomes a panel (plain text when not a TTY) and its exit code
(2 usage/config, 1 runtime); anything else is a bug and keeps its traceback. `--debug` shows the
traceback for every error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from modelzoo import ui
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


def main() -> None:
    """Console-script entry point."""
    app(prog_name="modelzoo")


if __name__ == "__main__":
    sys.exit(main())

"""The command line: fast commands stay TensorFlow-free, errors are messages with exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelzoo.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

CHECK_NO_TF = """
import sys
sys.argv = ["modelzoo", *{args!r}]
from modelzoo.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print("TF_IMPORTED=" + str("tensorflow" in sys.modules), "EXIT=" + str(code))
"""


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "datasets", "--json"],
                                  ["config", "show", "shallownet"], ["train", "--help"]])
def test_light_commands_do_not_import_tensorflow(args):
    result = subprocess.run([sys.executable, "-c", CHECK_NO_TF.format(args=args)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "TF_IMPORTED=False" in result.stdout, result.stdout + result.stderr
    assert "EXIT=0" in result.stdout or "EXIT=None" in result.stdout, result.stderr


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "modelzoo", "list", "models"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "shallownet" in result.stdout


def test_list_json_is_machine_readable():
    result = runner.invoke(app, ["list", "models", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["models"]
    assert {"shallownet", "minigooglenet", "minivggnet"} <= {r["name"] for r in rows}


def test_list_filters_with_a_wildcard():
    result = runner.invoke(app, ["list", "models", "--pattern", "mini*", "--json"])
    names = {r["name"] for r in json.loads(result.stdout)["models"]}
    assert names == {"minigooglenet", "minivggnet"}


def test_list_of_an_unknown_kind_is_a_usage_error():
    result = runner.invoke(app, ["list", "modles"])
    assert result.exit_code == 2
    assert "choose one of models" in result.stderr


def test_config_show_marks_overrides():
    result = runner.invoke(app, ["config", "show", "shallownet", "--set", "train.steps=123"])
    assert result.exit_code == 0, result.stderr
    assert "steps: 123  # --set" in result.stdout


def test_config_error_is_a_plain_paragraph_with_exit_code_2():
    result = runner.invoke(app, ["config", "show", "shallownet", "--set", "train.stepz=1"])
    assert result.exit_code == 2
    assert "error (config error): Invalid config:" in result.stderr
    assert "train.stepz: unknown key. Did you mean 'steps'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_config_name_suggests_and_names_the_fix():
    result = runner.invoke(app, ["config", "show", "shalownet"])
    assert result.exit_code == 2
    assert "Did you mean 'shallownet'" in result.stderr
    assert "modelzoo list configs" in result.stderr


def test_debug_shows_the_traceback():
    result = subprocess.run([sys.executable, "-m", "modelzoo", "--debug", "config", "show",
                             "nope"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_every_command_has_help_and_is_documented_in_the_readme():
    import typer.main

    readme = (ROOT / "README.md").read_text()
    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"{name} {s}" for s in sub] if sub else [name]
        for cmd in (sub or {name: command}).values():
            assert (cmd.help or "").strip(), f"`modelzoo {name}` has no help text"
    for name in names:
        assert f"modelzoo {name}" in readme, f"README.md does not show `modelzoo {name}`"

"""CLI conventions: --version, completion, help text for every positional argument with the path
dvc.yaml passes and an example, and no stray type column for flags."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
import typer
from typer.testing import CliRunner

from skelssl.cli import app

COMMAND = typer.main.get_command(app)
STAGES = [name for name in COMMAND.commands if name != "params"]


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"skelssl {version('skelssl')}"


def test_completion_is_offered():
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


@pytest.mark.parametrize("name", STAGES)
def test_every_positional_argument_is_explained(name):
    command = COMMAND.commands[name]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    assert arguments or name == "report"
    for argument in arguments:
        assert getattr(argument, "help", None), f"{name} {argument.name}: no help text"
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    if name != "report":
        assert "dvc.yaml:" in result.stdout or name == "export-pyskl"
        assert re.search(rf"Example: skelssl {name} \S+", result.stdout), result.stdout


def test_examples_match_dvc_yaml():
    """The example of each stage command is the path list of its dvc.yaml `cmd`."""
    from ruamel.yaml import YAML

    from helpers import ROOT

    stages = YAML(typ="safe").load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage, spec in stages.items():
        cmd = " ".join(spec["cmd"].split())
        command = "evaluate" if stage == "evaluate" else stage
        if command not in STAGES or command == "report" or "${" in cmd:  # report: --out, not a path
            continue
        paths = cmd.split(f"stages/{stage}.py", 1)[1].split()
        help_text = CliRunner().invoke(app, [command, "--help"], terminal_width=400).stdout
        assert f"Example: skelssl {command} {' '.join(paths)}" in " ".join(help_text.split()), stage

"""Repository contracts: README quickstart == CI, stage shims are thin, dvc.yaml deps cover imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from helpers import ROOT


def _quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- quickstart -->", 2)[1]
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith(("```", "#"))]


def test_ci_runs_exactly_the_readme_quickstart():
    commands = _quickstart()
    assert len(commands) == 2
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()]
    assert commands[0] in ci and commands[1] in ci
    assert "dvc repro" in commands[0] and "pytest" in commands[1]
    assert "set -euo pipefail" in ci


def test_stage_scripts_are_thin():
    for script in (ROOT / "stages").glob("*.py"):
        assert len(script.read_text().splitlines()) <= 40, script


# Modules that validate, report or dispatch but cannot change what a stage writes: config.py only
# validates (every result-changing value is required in params.yaml, so it holds no defaults).
CANNOT_CHANGE_OUTPUTS = {
    "src/skelssl/__init__.py", "src/skelssl/config.py", "src/skelssl/errors.py",
    "src/skelssl/console.py", "src/skelssl/runner.py", "src/skelssl/pipeline/__init__.py",
    "src/skelssl/data/__init__.py",
}


def test_dvc_deps_cover_every_imported_module():
    """Editing a module a stage imports must invalidate that stage: its deps list must cover it."""
    stages = YAML(typ="safe", pure=True).load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        script = stage["cmd"].split()[1]  # `python stages/<name>.py ...`: import what the shim imports
        code = ("import sys, json, runpy; runpy.run_path(%r, run_name='deps_check'); "
                "print(json.dumps(sorted(m.__file__ for m in list(sys.modules.values()) "
                "if m.__name__.startswith('skelssl') and getattr(m, '__file__', None))))") % str(ROOT / script)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        files = json.loads(out.stdout)
        deps = [d for d in stage["deps"] if not d.startswith("$")]
        missing = []
        for path in files:
            rel = str(Path(path).resolve().relative_to(ROOT))
            if rel in CANNOT_CHANGE_OUTPUTS:
                continue
            if not any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps):
                missing.append(rel)
        assert not missing, f"stage {name} imports modules its deps do not cover: {missing}"

"""The report tools behave like the CLI: --help prints their usage and exits 0; a folder
that is not a workdir is one `error: ...` line and exit status 2."""

import subprocess
import sys

import pytest
from conftest import REPO_ROOT

TOOLS = {"report": "WORKDIR_OR_EXPERIMENT_DIR", "compare": "WORKDIR_A WORKDIR_B"}


def run_tool(tool: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"lenet_bench.reports.{tool}", *map(str, args)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_the_usage_and_exits_0(tool):
    result = run_tool(tool, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m lenet_bench.reports.{tool} {TOOLS[tool]}")
    assert result.stderr == ""


@pytest.mark.parametrize("tool", TOOLS)
def test_a_folder_that_is_not_a_workdir_is_one_error_line(tool, tmp_path):
    (tmp_path / "notes").mkdir()
    result = run_tool(tool, *[tmp_path / "notes"] * (2 if tool == "compare" else 1))
    assert result.returncode == 2
    assert result.stderr == (f"error: {tmp_path / 'notes'}: holds no experiment (no config.json, "
                             "no */config.json): expected a workdir"
                             + (" or experiment folder" if tool == "report" else "") + "\n")

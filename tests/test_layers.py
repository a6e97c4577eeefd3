"""The package's layers, as pyproject.toml's import-linter contracts state them: the
contracts hold, and an import that runs back up breaks them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
                          cwd=root, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def linter():
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: `make install` installs import-linter")
    return lint_imports


def test_the_import_contracts_hold(linter):
    result = linter(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, upward_import", [
    ("records/analysis.py", "from lenet_bench.reports import tables"),
    ("trainers/group_loop.py", "from lenet_bench.study import workdir"),
    ("config.py", "from lenet_bench.networks import models"),
    ("records/statistics.py", "import tensorflow"),
])
def test_an_import_that_runs_back_up_breaks_a_contract(linter, tmp_path, module, upward_import):
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(REPO_ROOT / "lenet_bench", tmp_path / "lenet_bench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    planted = tmp_path / "lenet_bench" / module
    planted.write_text(f"{upward_import}\n{planted.read_text()}")
    result = linter(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "0 broken" not in result.stdout


def test_the_front_door_stays_thin():
    """api.py keeps the public functions and hands the work to study/; __main__ reads
    absl's flags without parsing its messages."""
    api = (REPO_ROOT / "lenet_bench" / "api.py").read_text()
    main = (REPO_ROOT / "lenet_bench" / "__main__.py").read_text()
    assert len(api.splitlines()) <= 150
    assert "import re\n" not in main and "apply_overrides" not in main

"""`make install` installs this checkout editable: its packages import from any folder."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_package_imports_from_any_folder(tmp_path):
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c",
         "import lenet_bench, experiments; print(lenet_bench.__file__); print(experiments.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"{sys.executable} cannot import lenet_bench and experiments outside the checkout: "
        f"run make install (it installs this checkout editable)\n{result.stderr[-2000:]}")
    files = [Path(line).resolve() for line in result.stdout.split()]
    assert files == [REPO_ROOT / "lenet_bench" / "__init__.py",
                     REPO_ROOT / "experiments" / "__init__.py"], (
        f"{sys.executable} imports {files}, not this checkout ({REPO_ROOT}): "
        "run make install here (it installs this checkout editable)")

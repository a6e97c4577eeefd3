"""The report side loads without TensorFlow or Keras: a report, a notebook and the
Ray driver can run where neither is installed (and start in a fraction of the time)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TF_FREE_MODULES = ("lenet_bench.config", "lenet_bench.inputs.data", "lenet_bench.inputs.noise",
                   "lenet_bench.artifacts", "lenet_bench.reports.tables", "lenet_bench.records.results",
                   "lenet_bench.study.search_space", "lenet_bench.reports.report",
                   "lenet_bench.reports.companion_report", "lenet_bench.reports.search_report",
                   "lenet_bench.reports.compare", "lenet_bench.backends", "lenet_bench.machine")
HEAVY = ("tensorflow", "keras")


def loaded_heavy_modules(module: str) -> list[str]:
    """The TensorFlow/Keras modules that importing `module` loads, in a fresh interpreter."""
    code = (f"import importlib, json, sys; importlib.import_module({module!r}); "
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_report_side_modules_load_neither_tensorflow_nor_keras():
    loaded = {module: heavy[:3] for module in TF_FREE_MODULES
              if (heavy := loaded_heavy_modules(module))}
    assert loaded == {}

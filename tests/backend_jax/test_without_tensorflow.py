"""--backend=jax runs the study end to end where TensorFlow cannot be imported, as on the
GPU machine: training, reports, TensorBoard logs, .keras models, cost, model internals, OOD."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BLOCKED_TENSORFLOW = '''\
from pathlib import Path
Path({marker!r}).write_text("tensorflow was imported")
raise ImportError("tensorflow is not installed here (blocked by the test)")
'''


def without_tensorflow(tmp_path: Path) -> tuple[dict, Path]:
    """An environment whose `import tensorflow` fails, and the file a try leaves behind
    (so a caught ImportError still shows)."""
    blocker = tmp_path / "no_tensorflow"
    marker = tmp_path / "tensorflow_import_tried"
    (blocker / "tensorflow").mkdir(parents=True)
    (blocker / "tensorflow" / "__init__.py").write_text(BLOCKED_TENSORFLOW.format(marker=str(marker)))
    env = {**os.environ, "PYTHONPATH": str(blocker), "LENET_BENCH_CACHE": str(tmp_path / "cache")}
    env.pop("LENET_BENCH_DATA", None)
    env.pop("KERAS_BACKEND", None)  # --backend chooses it.
    return env, marker


def test_digits_smoke_runs_on_jax_without_tensorflow(tmp_path):
    env, marker = without_tensorflow(tmp_path)
    workdir = tmp_path / "workdir"
    command = [sys.executable, "-m", "lenet_bench", "--experiment=digits_smoke", "--backend=jax",
               "--epochs=2", "--seeds=2", "--train_size=300", "--ood_dataset=synthetic",
               f"--workdir={workdir}", "--progress=none"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not marker.exists(), "something imported tensorflow on --backend=jax"
    experiment_dir = workdir / "digits_smoke"
    records = [json.loads(path.read_text()) for path in (experiment_dir / "runs").glob("*.json")]
    assert [record["status"] for record in records] == ["done", "done"]
    assert {record["spec"]["backend"] for record in records} == {"jax"}
    assert all("jax" in record["versions"] and "tensorflow" not in record["versions"]
               for record in records)
    assert all(record["history"]["test_accuracy"][-1] > 0.3 for record in records)
    assert len(list((experiment_dir / "runs").glob("*.final.keras"))) == 2
    assert list((experiment_dir / "tb").rglob("events.out.tfevents.*"))
    report = (experiment_dir / "REPORT.md").read_text()
    assert "backend: jax" in report and "OOD" in report
    assert list((tmp_path / "cache" / "jax").iterdir())  # The compiled programs, kept.

    run_files = {path: path.read_bytes() for path in (experiment_dir / "runs").glob("*.json")}
    again = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "2 already finished, 0 to train" in again.stderr
    assert {path: path.read_bytes() for path in run_files} == run_files

"""The command line end to end, in subprocesses, as a user runs it (a --report_only run
after one, on its workdir, in this process: cli_runner.run_cli)."""

import json
import os
import subprocess
import sys

from cli_runner import run_cli as run_cli_here
from conftest import REPO_ROOT


def run_cli(*args, env_extra=None, data_dir=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    env.pop(  # A developer's own data root must not leak into the tests.
        "LENET_BENCH_DATA", None)
    if data_dir is not None:
        os.makedirs(data_dir, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "lenet_bench", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=env, timeout=300)


# The keras download goes to a closed loopback port: refused at once, on any network.
OFFLINE_KERAS_ENV = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                     "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
                     "NO_PROXY": "", "no_proxy": ""}


def test_list_experiments_one_line_each():
    result = run_cli("--list_experiments")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    names = [line.split()[0] for line in lines]
    from experiments import EXPERIMENTS

    assert names == list(EXPERIMENTS) and "mnist_init_lr_grid" in names
    assert all(len(line.split()) > 3 for line in lines)


KEY_FLAGS = ("experiment", "workdir", "data_dir", "seeds", "epochs", "grid", "backend",
             "engine", "margin", "max_seeds")


def test_help_fits_a_screen_with_the_key_flags_and_their_defaults_and_exits_0():
    result = run_cli("--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) <= 80
    blocks = {}  # flag -> its lines in the help
    for line in lines:
        if line.startswith("  --"):
            name = line.split(":")[0].strip().removeprefix("--").removeprefix("[no]")
            blocks[name] = []
        if blocks and line.startswith("  "):
            blocks[name].append(line)
    for name in KEY_FLAGS + ("list_experiments", "batch_size", "train_size"):
        assert name in blocks, name
        assert "default" in " ".join(blocks[name]).lower(), name
    assert "(default: the experiment's, else 5)" in " ".join(blocks["seeds"])
    assert "(default: the experiment's, else 0.5)" in " ".join(blocks["margin"])
    assert lines.index("What to run:") < lines.index("Where:")  # Grouped, not alphabetical.


def test_helpfull_lists_every_flag_and_exits_0():
    from lenet_bench import config, options

    result = run_cli("--helpfull")
    assert result.returncode == 0
    listed = {line.split(":")[0].strip().removeprefix("--").removeprefix("[no]")
              for line in result.stdout.splitlines() if line.startswith("  --")}
    assert listed >= (set(config.field_names(flag=True)) | set(options.RUN_OPTIONS)
                      | set(options.COMMAND_LINE))


# One CLI run for both (each start-up of TensorFlow in a subprocess costs ~10 s): the
# digits study end to end, and a missing dataset beside it skipped and reported.
def test_digits_one_epoch_end_to_end_and_a_missing_dataset_skipped_and_reported(tmp_path,
                                                                                monkeypatch, capfd):
    result = run_cli("--experiment=cifar10_best,digits_smoke", "--epochs=1", "--seeds=2",
                     "--train_size=400", "--skip_missing_data", f"--data_dir={tmp_path}",
                     f"--workdir={tmp_path / 'wd'}",
                     env_extra=OFFLINE_KERAS_ENV | {"KERAS_HOME": str(tmp_path / "keras_home")})
    assert result.returncode == 0, result.stderr
    experiment_dir = tmp_path / "wd" / "digits_smoke"
    assert f"report: {experiment_dir / 'REPORT.md'}" in result.stdout
    config = json.loads((experiment_dir / "config.json").read_text())
    assert config["config"]["epochs"] == 1 and config["config"]["seeds"] == 2
    assert "--train_size=400" in config["command"]
    runs = sorted((experiment_dir / "runs").glob("*.json"))
    assert [json.loads(p.read_text())["status"] for p in runs] == ["done", "done"]
    summary = (experiment_dir / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("initializer,learning_rate,lr_decay")
    assert len(summary) == 2  # one setting, two seeds aggregated
    report_text = (experiment_dir / "REPORT.md").read_text()
    assert "## Grid points ranked (test accuracy %, mean ± std over seeds)" in report_text
    assert "| 2/2 |" in report_text
    assert (experiment_dir / "figures" / "accuracy_curves.png").stat().st_size > 1000
    assert "digits_smoke" in (tmp_path / "wd" / "REPORT.md").read_text()
    # A rerun of the same command trains nothing: tests/backend_jax/test_without_tensorflow.py
    # (through the CLI) and test_train.test_rerun_skips_finished_runs.

    index = (tmp_path / "wd" / "REPORT.md").read_text()
    assert "## Skipped" in index and "**cifar10_best**: cifar10: nothing under --data_dir=" in index
    assert "[digits_smoke](digits_smoke/REPORT.md)" in index
    assert "make bench DATA_DIR=DIR" in index
    # Rebuilt from the workdir alone (report module, then --report_only with an experiment
    # that never started), the index still says what was skipped.
    (tmp_path / "wd" / "REPORT.md").unlink()
    from lenet_bench.reports import report

    assert report.main(["report", str(tmp_path / "wd")]) == 0
    assert "**cifar10_best**: cifar10: nothing under" in (tmp_path / "wd" / "REPORT.md").read_text()
    report_only = run_cli_here(["--experiment=cifar10_best,digits_smoke", "--report_only",
                                f"--workdir={tmp_path / 'wd'}"], monkeypatch=monkeypatch,
                               capfd=capfd, env={"LENET_BENCH_DATA": None}, cwd=REPO_ROOT)
    assert report_only.returncode == 0, report_only.stderr
    assert "report: cifar10_best: not started in" in report_only.stdout
    assert "## Skipped" in (tmp_path / "wd" / "REPORT.md").read_text()


class CountingProxy:
    """A loopback HTTP proxy that refuses every request and counts them: the keras
    download fails at once and no packet leaves the machine."""

    def __init__(self):
        import socket
        import threading

        self.requests = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                self.requests.append(connection.recv(4096).split(b"\r\n")[0].decode())
                connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    def env(self):
        url = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": url, "HTTP_PROXY": url, "https_proxy": url, "http_proxy": url,
                "NO_PROXY": "", "no_proxy": ""}

    def close(self):
        self.server.close()


def test_no_dataset_at_all_is_one_line_exit_2_and_each_download_tried_once(tmp_path):
    proxy = CountingProxy()
    try:
        result = run_cli("--experiment=mnist_init_lr_grid,mnist_best,fashion_mnist_init_lr_grid",
                         "--skip_missing_data", f"--data_dir={tmp_path / 'data'}",
                         f"--workdir={tmp_path / 'wd'}",
                         env_extra=proxy.env() | {"KERAS_HOME": str(tmp_path / "keras_home")},
                         data_dir=tmp_path / "data")
    finally:
        proxy.close()
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr == (
        "error: nothing to train: no dataset found for mnist_init_lr_grid, mnist_best, "
        "fashion_mnist_init_lr_grid (mnist, fashion_mnist): pass --data_dir=DIR (make bench "
        "DATA_DIR=DIR, or set LENET_BENCH_DATA) to a folder holding mnist/, fashion-mnist/ (each "
        "with IDX files, CIFAR-10 python batches, or train/<class>/ and test/<class>/ image "
        "folders), or run with network access so keras.datasets can download them\n")
    # One download per dataset: mnist once for its two experiments.
    assert [request.split()[:2] for request in proxy.requests] == [
        ["CONNECT", "storage.googleapis.com:443"]] * 2
    assert not (tmp_path / "wd").exists()  # no empty index report

"""Every kind of bad input: one line naming the file, flag or value and what was expected,
exit status 2, no traceback, and nothing already in the workdir changed."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from conftest import REPO_ROOT, idx_bytes, write_idx_dataset

OFFLINE_KERAS_ENV = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                     "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
                     "NO_PROXY": "", "no_proxy": ""}


def mnist_data(tmp_path, mutate=None):
    """An MNIST-style data root; `mutate(folder)` breaks it. Returns the --data_dir flag."""
    folder = tmp_path / "data" / "mnist"
    write_idx_dataset(folder, train=20, test=10)
    if mutate:
        mutate(folder)
    return f"--data_dir={tmp_path / 'data'}"


def fashion_folder(tmp_path):
    """A Fashion-MNIST-style folder named so, given as the dataset folder itself."""
    write_idx_dataset(tmp_path / "fashion-mnist", train=20, test=10)
    return f"--data_dir={tmp_path / 'fashion-mnist'}"


def empty_folder(path):
    path.mkdir()
    return path


def plain_idx_folder(tmp_path):
    """MNIST-style IDX files in a folder named for no dataset, given as the dataset folder."""
    write_idx_dataset(tmp_path / "images", train=20, test=10)
    return f"--data_dir={tmp_path / 'images'}"


def truncate_gz(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])


def corrupt_gz(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[20:30] = b"\xff" * 10
    path.write_bytes(bytes(data))


def wrong_magic(folder):
    import gzip
    path = folder / "train-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress(path.read_bytes()))
    payload[2] = 0x0D  # float32 instead of ubyte
    path.write_bytes(gzip.compress(bytes(payload)))


def count_mismatch(folder):
    import gzip
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.arange(19) % 10)))


def labels_out_of_range(folder):
    import gzip
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.full(20, 12))))


def cifar_folder(tmp_path, break_it):
    from PIL import Image
    root = tmp_path / "data" / "cifar10"
    for split in ("train", "test"):
        for name in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck"):
            (root / split / name).mkdir(parents=True)
            Image.new("RGB", (32, 32), (10, 20, 30)).save(root / split / name / "0001.png")
    break_it(root)
    return f"--data_dir={tmp_path / 'data'}"


class TouchesMarker:
    """A pickle of this runs `touch <marker>` when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def hostile_cifar(tmp_path):
    """A CIFAR-10 folder whose first batch would create wd/marker; the workdir snapshot
    shows it was not created."""
    import pickle
    root = tmp_path / "data" / "cifar10"
    root.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (root / name).write_bytes(pickle.dumps({b"data": TouchesMarker(tmp_path / "wd" / "marker"),
                                                b"labels": [0]}))
    return f"--data_dir={tmp_path / 'data'}"


def experiment_file(tmp_path, **fields):
    body = ", ".join(f"{key}={value!r}" for key, value in fields.items())
    path = tmp_path / "my_experiment.py"
    path.write_text("from lenet_bench.config import ExperimentConfig\n\n\n"
                    f"def get_config():\n    return ExperimentConfig({body})\n")
    return f"--experiment={path}"


# Each case: a function of tmp_path returning the arguments, and the one line expected.
CASES = {
    "unknown precision": (lambda t: ["--experiment=digits_smoke", "--precision=half"],
                          r"error: .*--precision.*(float32|mixed_bfloat16)"),
    "missing data dir": (lambda t: ["--experiment=mnist_best", "--data_dir=/no/such/dir"],
                         r"error: --data_dir=/no/such/dir: no such directory$"),
    "empty data dir": (lambda t: ["--experiment=mnist_best", f"--data_dir={t / 'data'}"],
                       r"error: mnist: nothing under --data_dir=.*data"),
    "truncated gz": (lambda t: ["--experiment=mnist_best", mnist_data(t, truncate_gz)],
                     r"error: .*train-images-idx3-ubyte\.gz: truncated or corrupt gzip file"),
    "corrupt gz": (lambda t: ["--experiment=mnist_best", mnist_data(t, corrupt_gz)],
                   r"error: .*train-images-idx3-ubyte\.gz: .*(corrupt|invalid)"),
    "wrong IDX magic": (lambda t: ["--experiment=mnist_best", mnist_data(t, wrong_magic)],
                        r"error: .*train-labels-idx1-ubyte\.gz: .*magic"),
    "counts differ": (lambda t: ["--experiment=mnist_best", mnist_data(t, count_mismatch)],
                      r"error: .*train-images-idx3-ubyte\.gz: holds 20 images but .*train-labels-idx1-ubyte\.gz "
                      r"holds 19 labels: expected equal counts$"),
    "labels out of range": (lambda t: ["--experiment=mnist_best", mnist_data(t, labels_out_of_range)],
                            r"error: .*train-labels-idx1-ubyte\.gz: label 12 .*expected 0\.\.9"),
    "unreadable image": (lambda t: ["--experiment=cifar10_best", cifar_folder(
        t, lambda root: (root / "train" / "cat" / "0002.png").write_bytes(b"not a png"))],
                         r"error: .*train/cat/0002\.png: .*"),
    "unknown class folder": (lambda t: ["--experiment=cifar10_best", cifar_folder(
        t, lambda root: (root / "train" / "unicorn").mkdir())],
                             r"error: .*train/unicorn: 'unicorn' is not a known class: expected one of airplane, "),
    "missing class folder": (lambda t: ["--experiment=cifar10_best", cifar_folder(
        t, lambda root: shutil.rmtree(root / "test" / "truck"))],
                             r"error: .*test/truck is missing: expected one folder per class: "
                             r"airplane, .*, truck$"),
    "malicious CIFAR pickle": (lambda t: ["--experiment=cifar10_best", hostile_cifar(t)],
                               r"error: .*cifar10/data_batch_1: refused: the pickle calls "
                               r"'(posix|nt)\.system', which a CIFAR-10 batch never holds .*; "
                               r"nothing in it was run$"),
    "another dataset's folder": (lambda t: ["--experiment=mnist_best", fashion_folder(t)],
                                 r"error: .*/fashion-mnist: is a fashion_mnist folder \(by its "
                                 r"name\), not mnist: expected --data_dir to hold mnist \(mnist/\)$"),
    "another dataset's image shape": (
        lambda t: ["--experiment=cifar10_best", plain_idx_folder(t)],
        r"error: .*/images: train images are 28x28x1 \(like mnist or fashion_mnist\), not the "
        r"32x32x3 of cifar10: expected a folder holding cifar10$"),
    "unknown dataset": (lambda t: [experiment_file(t, name="x", dataset="imagenet")],
                        r"error: --dataset='imagenet' is invalid: expected one of mnist, "),
    "unknown experiment": (lambda t: ["--experiment=mnist_bset"],
                           r"error: --experiment='mnist_bset' is unknown \(did you mean mnist_best\?\)"),
    "unknown initializer": (lambda t: ["--initializer=glorot_nromal"],
                            r"error: --initializer='glorot_nromal' is unknown \(did you mean glorot_normal\?\)"),
    "unknown optimizer": (lambda t: ["--optimizer=adamm"],
                          r"error: --optimizer='adamm' is unknown: expected a Keras optimizer name"),
    "optimizer wrapper": (lambda t: ["--optimizer=lossscaleoptimizer"],
                          r"error: --optimizer='lossscaleoptimizer' is a Keras base class or "
                          r"wrapper that its name alone does not build: expected "),
    "eps is 1": (lambda t: ["--label_noise=1"],
                 r"error: --label_noise=1\.0 is invalid: expected a number in \[0, 1\)$"),
    "eps below 0": (lambda t: ["--label_noise=-0.1"],
                    r"error: --label_noise=-0\.1 is invalid: expected a number in \[0, 1\)$"),
    "eps in a grid": (lambda t: ["--grid=label_noise=0,0.5,1.2"],
                      r"error: --label_noise=1\.2 is invalid: expected a number in \[0, 1\)$"),
    "learning rate 0": (lambda t: ["--learning_rate=0"],
                        r"error: --learning_rate=0\.0 is invalid: expected a number > 0$"),
    "learning rate < 0": (lambda t: ["--learning_rate=-0.01"],
                          r"error: --learning_rate=-0\.01 is invalid: expected a number > 0$"),
    "decay 0": (lambda t: ["--lr_decay=0"],
                r"error: --lr_decay=0\.0 is invalid: expected a number in \(0, 1\]$"),
    "decay > 1": (lambda t: ["--lr_decay=1.01"],
                  r"error: --lr_decay=1\.01 is invalid: expected a number in \(0, 1\]$"),
    "epochs 0": (lambda t: ["--epochs=0"], r"error: --epochs=0 is invalid: expected an integer >= 1$"),
    "seeds 0": (lambda t: ["--seeds=0"], r"error: --seeds=0 is invalid: expected an integer >= 1 or auto$"),
    "batch 0": (lambda t: ["--batch_size=0"],
                r"error: --batch_size=0 is invalid: expected an integer >= 1$"),
    "batch > training set": (lambda t: ["--train_size=100", "--batch_size=101"],
                             r"error: --batch_size=101 is invalid: expected at most 100 "),
    "not a number": (lambda t: ["--learning_rate=fast"],
                     r"error: --learning_rate=fast is invalid: expected a number$"),
    "unknown flag": (lambda t: ["--epoch=3"],
                     r"error: --epoch is unknown \(did you mean epochs\?\): expected one of the "
                     r"flags that --help lists$"),
    "unknown flag, by its words": (lambda t: ["--noise=0.1"],
                                   r"error: --noise is unknown \(did you mean one of label_noise, "
                                   r"noise_mode\?\)"),
    "bad grid field": (lambda t: ["--grid=colour=red"],
                       r"error: --grid='colour=red': 'colour' cannot be a grid field: expected one of "),
    "workdir is a file": (lambda t: [f"--workdir={t / 'wd' / 'REPORT.md'}"],
                          r"error: --workdir=.*REPORT\.md is a file: expected a directory$"),
    "workdir is an experiment folder": (lambda t: [f"--workdir={t / 'wd' / 'digits_smoke'}"],
                                        r"error: --workdir=.*digits_smoke is the results folder "
                                        r"of experiment 'digits_smoke': expected the folder above"),
    "workdir holds another experiment": (
        lambda t: [experiment_file(t, name="digits_smoke", dataset="synthetic")],
        r"error: --workdir=.*holds results of experiment 'digits_smoke' on 'digits': expected "
        r"'digits_smoke' on 'synthetic'; use another --workdir$"),
}


def snapshot(path: Path) -> dict:
    return {str(p.relative_to(path)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
            for p in sorted(path.rglob("*"))}


@pytest.fixture
def workdir_with_results(tmp_path):
    """A workdir holding a finished experiment's files (as a real run leaves them)."""
    experiment_dir = tmp_path / "wd" / "digits_smoke"
    (experiment_dir / "runs").mkdir(parents=True)
    (experiment_dir / "config.json").write_text(json.dumps(
        {"experiment": "digits_smoke", "dataset": {"name": "digits"}, "run_keys": ["r"]}))
    (experiment_dir / "runs" / "r.json").write_text(json.dumps({"key": "r", "status": "done"}))
    (tmp_path / "wd" / "REPORT.md").write_text("# lenet_bench results\n")
    return tmp_path / "wd"


def _read_only_runs_folder(tmp_path):
    """Makes the results' runs folder unwritable: by its mode bits, or (root writes
    through those) by a read-only bind mount in a mount namespace of the CLI's own."""
    runs_dir = tmp_path / "wd" / "digits_smoke" / "runs"
    if os.geteuid() != 0:
        runs_dir.chmod(0o555)
        return []
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        pytest.skip("root ignores mode bits, and no mount namespace can be made here "
                    "(`unshare --mount`) to mount the folder read-only")
    return ["unshare", "--mount", "sh", "-c", 'mount --bind "$1" "$1" && '
            'mount -o remount,bind,ro "$1" && shift && exec "$@"', "sh", str(runs_dir)]


# Each case that needs the CLI started under a wrapper command: a function of tmp_path
# returning that command's words.
WRAPPERS = {"workdir not writable": _read_only_runs_folder}
CASES["report_only without a workdir"] = (
    lambda t: ["--report_only", f"--workdir={t / 'nowhere'}"],
    r"error: --workdir=.*nowhere: no such directory: expected a workdir that holds experiments")
CASES["report_only on a workdir without runs"] = (
    lambda t: ["--report_only", f"--workdir={empty_folder(t / 'empty')}"],
    r"error: --workdir=.*empty: holds no runs \(no <experiment>/config\.json\): expected a "
    r"workdir that holds experiments, with --report_only$")
CASES["augmentation on jax"] = (
    lambda t: ["--experiment=digits_smoke", "--backend=jax", "--augment_zoom=0.1"],
    r"error: --augment_translation/rotation/zoom/flip needs --backend=tensorflow .*: expected "
    r"it off on --backend=jax$")
CASES["workdir not writable"] = (
    lambda t: [], r"error: --workdir=.*: .*digits_smoke/runs is not writable$")


# The cases run as `python -m lenet_bench` in a process of their own; the others run
# the same code in the test process (cli_runner.run_cli), without 2-10 s of start-up.
SUBPROCESS_CASES = {
    "workdir not writable": "started under `unshare --mount` (WRAPPERS)",
    "empty data dir": "Keras reads $KERAS_HOME (where its failed download goes) once, "
                      "when imported: a fresh process keeps it in tmp_path",
    "unknown experiment": "the entry point itself: app.run, parse_flags, main's InputError",
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_the_workdir_is_unchanged(tmp_path, workdir_with_results,
                                                                     case, monkeypatch, capfd):
    make_args, expected = CASES[case]
    (tmp_path / "data").mkdir(exist_ok=True)
    args = make_args(tmp_path)
    if not any(arg.startswith("--workdir=") for arg in args):
        args.append(f"--workdir={workdir_with_results}")
    wrapper = WRAPPERS[case](tmp_path) if case in WRAPPERS else []
    before = snapshot(tmp_path / "wd")
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", **OFFLINE_KERAS_ENV,
           "KERAS_HOME": str(tmp_path / "keras_home"), "LENET_BENCH_CACHE": str(tmp_path / "cache"),
           "LENET_BENCH_DATA": None}
    assert not wrapper or case in SUBPROCESS_CASES, "a wrapper needs a process of its own"
    if case in SUBPROCESS_CASES:
        environ = {**os.environ, **env}
        environ.pop("LENET_BENCH_DATA", None)
        result = subprocess.run([*wrapper, sys.executable, "-m", "lenet_bench", *args], cwd=REPO_ROOT,
                                env=environ, capture_output=True, text=True, timeout=300)
    else:
        result = run_cli(args, monkeypatch=monkeypatch, capfd=capfd, env=env, cwd=REPO_ROOT)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.match(expected, result.stderr), result.stderr
    assert snapshot(tmp_path / "wd") == before


# Input refused from names (and, for the batch size, the dataset) alone: before
# TensorFlow, Keras, JAX or PyTorch is imported.
REFUSED_BEFORE_KERAS = {
    "unknown initializer": CASES["unknown initializer"],
    "unknown optimizer": CASES["unknown optimizer"],
    "unknown activation": (lambda t: ["--activation=relux"],
                           r"error: --activation='relux' is unknown: expected a Keras activation"),
    "fused trainer, not LeNet-5": (
        lambda t: ["--trainer=fused", "--architecture=mlp"],
        r"error: --trainer=fused trains plain LeNet-5 only, not --architecture=mlp "),
    "batch > training set": (  # Synthetic data: no sklearn to import (digits).
        lambda t: [experiment_file(t, name="x", dataset="synthetic"), "--train_size=100",
                   "--batch_size=101"], CASES["batch > training set"][1]),
    "augmentation on jax": CASES["augmentation on jax"],
}
HEAVY_MODULES = ("tensorflow", "keras", "jax", "torch")
CHILD = """
import contextlib, io, json, sys
from lenet_bench import __main__ as cli
results = {}
for case, args in json.loads(sys.argv[1]).items():
    cli.FLAGS.unparse_flags()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            cli.main(cli.parse_flags(["lenet_bench", *args]))
        except SystemExit as done:
            results[case] = [done.code, stderr.getvalue()]
heavy = sorted(name for name in sys.modules if name.split(".")[0] in %r)
print(json.dumps({"results": results, "heavy": heavy}))
""" % (HEAVY_MODULES,)


def test_cheap_bad_input_is_refused_before_keras_is_imported(tmp_path):
    """One child process runs every case, then lists the heavy modules it has loaded."""
    workdir = f"--workdir={tmp_path / 'wd'}"
    cases = {case: make_args(tmp_path) + [workdir]
             for case, (make_args, _) in REFUSED_BEFORE_KERAS.items()}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "LENET_BENCH_CACHE": str(tmp_path / "cache")}
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for case, (_, expected) in REFUSED_BEFORE_KERAS.items():
        code, stderr = report["results"][case]
        assert code == 2 and stderr.count("\n") == 1 and re.match(expected, stderr), (case, stderr)
    assert report["heavy"] == []

import fcntl
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test workers: one TensorFlow thread each (in this process, in the CLI
    # processes the tests start, in Ray tasks), so two workers share two cores instead
    # of fighting over them.
    for name in ("LENET_BENCH_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, "1")
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

# The published MNIST / Fashion-MNIST file names, spelled here rather than read from the
# loader, so that a loader looking for other names fails the tests.
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

# Keras picks its backend once per process, so each backend's tests are a pytest session
# of their own: tests/backend_<name>/ runs only with KERAS_BACKEND=<name> (the Makefile
# runs one session per backend); every other test runs on TensorFlow.
TEST_BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
BACKEND_TEST_DIRS = {"jax": "backend_jax", "torch": "backend_torch"}
collect_ignore = [folder for name, folder in BACKEND_TEST_DIRS.items() if name != TEST_BACKEND]


def pytest_ignore_collect(collection_path, config):
    """On a backend's own session, only its folder (and no TensorFlow test) is collected."""
    if TEST_BACKEND == "tensorflow" or collection_path.is_dir():
        return None
    own = REPO_ROOT / "tests" / BACKEND_TEST_DIRS[TEST_BACKEND]
    return None if own in collection_path.parents else True


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dataset(folder, *, gz=True, train=12, test=5, seed=0):
    """Writes MNIST-style IDX files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, count in (("train", train), ("test", test)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count) % 10
        arrays[split] = images, labels
        for stem, array in zip(IDX_FILES[split], (images, labels)):
            payload = idx_bytes(array)
            if gz:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(payload))
            else:
                (folder / stem).write_bytes(payload)
    return arrays


def run_options(**changes):
    """The run options of a direct run_experiment/train_group call (options.LIBRARY_OPTIONS)
    with `changes`, e.g. run_options(trainer="fused", jit="off")."""
    import dataclasses

    from lenet_bench.options import LIBRARY_OPTIONS

    return dataclasses.replace(LIBRARY_OPTIONS, **changes)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits as lenet_bench loads them, shared by every test (read only)."""
    from lenet_bench.inputs import data

    return data.load("digits")


@pytest.fixture(scope="session")
def trained_experiment(tmp_path_factory):
    """run_experiment(config, dataset, workdir, run_options(**options)) once per session
    for each (config, dataset name, options); returns the experiment folder. Tests that compare
    against a reference run share it this way; they must not write into it."""
    from lenet_bench.study import experiment

    done = {}

    def trained(config, dataset, **options):
        key = (repr(config), dataset.name, repr(sorted(options.items())))
        if key not in done:
            workdir = tmp_path_factory.mktemp(f"trained_{config.name}")
            done[key] = experiment.run_experiment(config, dataset, workdir,
                                                  run_options(**options))
        return done[key]

    return trained


# --- One Ray cluster for every Ray test ----------------------------------------------------


@pytest.fixture(scope="session")
def ray_cluster():
    """A head (no CPUs, so it runs no task) and two 1-CPU worker nodes, all processes on
    this machine (ray.cluster_utils.Cluster), connected to this process: (cluster, [the
    two worker nodes]). Shared by the Ray tests, since each start of Ray, and each new
    worker's imports, costs seconds; a test that removes a node adds one back. A removed
    node is declared dead after 2 missed health checks 0.5 s apart (Ray's default: 5, 3 s
    apart), so a lost group is retried sooner. Its workers import the tests' modules
    (for their fault-injecting group trainers)."""
    import ray
    from ray.cluster_utils import Cluster

    from lenet_bench.study import engines

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 2}})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    options = engines.ray_init_options(cluster.address)
    options["runtime_env"]["env_vars"] = {"PYTHONPATH": str(REPO_ROOT / "tests")}
    ray.init(**options)
    yield cluster, nodes
    ray.shutdown()
    cluster.shutdown()


# --- Tests in a network namespace of their own (the Ray tests) ---------------------------
#
# Outside one, Ray binds its nodes to the machine's network address whatever
# --node-ip-address says; in a namespace holding only loopback, to 127.0.0.1. A module
# marked `loopback_netns` is collected here as usual, but its tests run in one pytest
# subprocess under `unshare --net` (after `ip link set lo up`; as a normal user inside a user
# namespace too, `--map-root-user`, where the kernel allows those); each test here reports
# the outcome it had there. NETNS_ENV, set in that subprocess, names the file where it
# writes the outcomes (and tells this file it is inside).
NETNS_ENV = "LENET_BENCH_TEST_NETNS_RESULTS"
NETNS_MARK = "loopback_netns"
NETNS_SCRIPT = 'ip link set lo up && exec "$@"'
# Root makes the namespace as is; a normal user in a user namespace of its own, where it is
# root (the kernel's unprivileged user namespaces: on by default in most Linux distributions).
NETNS_UNSHARE = ["unshare", "--net"] + (["--map-root-user"] if os.geteuid() != 0 else [])
NETNS_TIMEOUT = 1800  # Seconds for every marked test together.


def pytest_configure(config):
    config.addinivalue_line("markers", f"{NETNS_MARK}: runs in a network namespace of its own "
                                       "holding only loopback (a subprocess under unshare)")


def netns_unavailable() -> str | None:
    """Why no loopback-only network namespace can be made here; None when one can."""
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        return (f"cannot make a network namespace: {' and '.join(missing)} not found "
                "(util-linux, iproute2)")
    probe = subprocess.run([*NETNS_UNSHARE, "sh", "-c", NETNS_SCRIPT, "sh", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"cannot make a network namespace with {' '.join(NETNS_UNSHARE)}: "
                f"{probe.stderr.strip() or probe.returncode}")
    return None


class NetnsFailure(Exception):
    """A test that failed in the namespace; its text is the report from there."""


class NetnsRun:
    """The one subprocess that runs every marked test, started by the first to need it."""

    def __init__(self, config, nodeids):
        self.config, self.nodeids, self.outcomes, self.output = config, nodeids, None, ""

    def outcome(self, nodeid):
        if self.outcomes is None:
            self.run()
        return self.outcomes.get(nodeid)

    def run(self):
        """Runs the namespace's pytest, once per test run: under pytest-xdist the first
        worker to need it runs it (holding a lock file) and the others read its outcomes."""
        run_id = getattr(self.config, "workerinput", {}).get("testrunuid") or uuid.uuid4().hex
        shared = Path(tempfile.gettempdir()) / f"lenet_bench_netns_{run_id}"
        with open(f"{shared}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if Path(f"{shared}.json").is_file():
                stored = json.loads(Path(f"{shared}.json").read_text())
                self.outcomes, self.output = stored["outcomes"], stored["output"]
                return
            self._run()
            Path(f"{shared}.json").write_text(json.dumps({"outcomes": self.outcomes,
                                                          "output": self.output}))

    def _run(self):
        with tempfile.TemporaryDirectory(prefix="lenet_bench_netns_") as folder:
            results = Path(folder) / "outcomes.json"
            root = self.config.rootpath
            command = [*NETNS_UNSHARE, "sh", "-c", NETNS_SCRIPT, "sh", sys.executable,
                       "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={root}",
                       *(f"{root}/{nodeid}" for nodeid in self.nodeids)]
            try:
                done = subprocess.run(command, cwd=self.config.invocation_params.dir,
                                      env={**os.environ, NETNS_ENV: str(results)},
                                      capture_output=True, text=True, timeout=NETNS_TIMEOUT)
                self.output = done.stdout + done.stderr
            except subprocess.TimeoutExpired as error:
                self.output = f"timed out after {NETNS_TIMEOUT} s:\n{error.stdout or ''}"
            self.outcomes = json.loads(results.read_text()) if results.is_file() else {}


class NetnsItem(pytest.Item):
    """Stands for a marked test here and reports its outcome in the namespace."""

    def __init__(self, *, original, netns_run, **kwargs):
        super().__init__(**kwargs)
        self.original, self.netns_run = original, netns_run
        self.own_markers = list(original.own_markers)
        # pytest-xdist's --dist loadgroup has put '@<group>' after the test's id: keep it
        # here so the scheduler sends every stand-in to one worker.
        self.test_id = original.nodeid.split("@", 1)[0]
        self._nodeid = original.nodeid

    def runtest(self):
        outcome = self.netns_run.outcome(self.test_id)
        if outcome is None:
            raise NetnsFailure("no outcome from the network namespace's pytest:\n"
                               + self.netns_run.output[-6000:])
        if outcome["outcome"] == "skipped":
            pytest.skip(outcome["text"])
        if outcome["outcome"] == "failed":
            raise NetnsFailure(f"failed in the network namespace ({outcome['when']}):\n"
                               + outcome["text"])

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, NetnsFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.original.reportinfo()


def pytest_itemcollected(item):
    """Under pytest-xdist (`make test`: `-n 2 --dist loadgroup`) every test of the network
    namespace goes to one worker, so its pytest runs once. A module whose module-scoped
    fixtures should be built once says so itself (`pytestmark =
    pytest.mark.xdist_group(...)`); every other test goes to whichever worker is free,
    so the two finish together."""
    if item.get_closest_marker(NETNS_MARK):
        item.add_marker(pytest.mark.xdist_group(NETNS_MARK))


@pytest.hookimpl(trylast=True)  # After -k/-m have deselected.
def pytest_collection_modifyitems(config, items):
    if os.environ.get(NETNS_ENV):
        return
    marked = [item for item in items if item.get_closest_marker(NETNS_MARK)]
    if not marked:
        return
    reason = netns_unavailable()
    if reason:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=reason))
        return
    netns_run = NetnsRun(config, [item.nodeid.split("@", 1)[0] for item in marked])
    items[:] = [NetnsItem.from_parent(item.parent, name=item.name, original=item,
                                      netns_run=netns_run)
                if item.get_closest_marker(NETNS_MARK) else item for item in items]





_NETNS_OUTCOMES = {}


def pytest_runtest_logreport(report):
    if not os.environ.get(NETNS_ENV):
        return
    if report.failed or (report.skipped and report.nodeid not in _NETNS_OUTCOMES):
        text = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) \
            else report.longreprtext
        _NETNS_OUTCOMES[report.nodeid] = {"outcome": report.outcome, "when": report.when,
                                          "text": text}
    elif report.when == "call" and report.passed:
        _NETNS_OUTCOMES.setdefault(report.nodeid, {"outcome": "passed", "when": "call",
                                                   "text": ""})


def pytest_sessionfinish(session):
    if os.environ.get(NETNS_ENV):
        Path(os.environ[NETNS_ENV]).write_text(json.dumps(_NETNS_OUTCOMES))

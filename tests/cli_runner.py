"""The command line run in the test process: `python -m lenet_bench ARGS` without the
1-2 s of a new interpreter (10 s where TensorFlow is imported).

`run_cli` runs what `__main__.console_main` runs after its process setup (the Ctrl-C
handler, which a test process keeps its own of): absl's `app.run` steps that matter
here (help flags, the absl logging handler on stderr, verbosity INFO once the flags
are parsed), `parse_flags`, then `main`. It returns a `subprocess.CompletedProcess`
as `subprocess.run(..., capture_output=True, text=True)` would: the exit status, and
stdout and stderr as a user sees them: file-descriptor level (`capfd`: native code's
writes too), with Python logging (absl's handler) and warnings (Python's default
filters, not pytest's) written to that stderr, and an uncaught exception printed as
a traceback with status 1.

What a process gives each run and a test process shares is reset around every call:
absl's FLAGS (unparsed before and after), sys.argv, the working directory, os.environ
(set with `monkeypatch`; whatever the CLI sets in it is undone, but for
$TF_ENABLE_ONEDNN_OPTS as the CLI set it when it imported TensorFlow: what TensorFlow
runs with in this process from then on, as in the CLI's own), the root and
lenet_bench loggers' levels and handlers. What it cannot reset: modules already
imported (Keras's backend and $KERAS_HOME are read once, at import): a case that
depends on those, or on the entry point itself, runs `python -m lenet_bench`. Nor
TensorFlow's thread pools, fixed at its first op, and its oneDNN setting, read when
imported: `one_thread_here()` and `onednn_here()` say what a `--threads=1` run here
trains with.
"""

import contextlib
import logging
import os
import subprocess
import sys
import traceback
import warnings

from absl import app
from absl import logging as absl_logging

from lenet_bench import __main__ as cli

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
# CPython's default warning filters (what `python -m` starts with, without -W).
DEFAULT_WARNING_FILTERS = (("default", DeprecationWarning, "__main__"),
                           ("ignore", DeprecationWarning, ""),
                           ("ignore", PendingDeprecationWarning, ""),
                           ("ignore", ImportWarning, ""),
                           ("ignore", ResourceWarning, ""))


def run_cli(args, *, monkeypatch, capfd, env=None, cwd=None) -> subprocess.CompletedProcess:
    """`python -m lenet_bench *args` in this process. `env`: variables to set (None:
    unset) on top of os.environ; `cwd`: the working directory."""
    argv = [cli.__file__, *map(str, args)]
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    for name, value in (env or {}).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(value))
    if cwd is not None:
        monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", argv)
    capfd.readouterr()  # What the test printed before is not the command's.
    saved_environ = dict(os.environ)
    tensorflow_imported = "tensorflow" in sys.modules
    with _process_like_logging(), _process_like_warnings():
        cli.FLAGS.unparse_flags()
        try:
            returncode = _exit_status(argv)
        finally:
            cli.FLAGS.unparse_flags()
            onednn = os.environ.get(ONEDNN_ENV)
            os.environ.clear()
            os.environ.update(saved_environ)
            if not tensorflow_imported and "tensorflow" in sys.modules and onednn is not None:
                # TensorFlow read it when this run imported it: what it runs with from now
                # on, for every test after this one too (not undone with `monkeypatch`).
                os.environ[ONEDNN_ENV] = onednn
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(argv, returncode, out, err)


def one_thread_here() -> bool:
    """Whether TensorFlow in this process runs (or will, once started) one intra- and one
    inter-op thread whatever ran before: $TF_NUM_INTRAOP_THREADS and
    $TF_NUM_INTEROP_THREADS at 1 (pytest-xdist workers: tests/conftest.py sets them before
    TensorFlow is imported), or its pools already fixed at 1. Then a `--threads=1` run
    here trains as one in a new process, and leaves the threads as they were for the
    tests after it. Otherwise (a plain `pytest`: TensorFlow at one thread per core, or
    not yet started and then fixed at 1 for the rest of the session) such a run belongs
    in a process of its own."""
    if all(os.environ.get(name) == "1"
           for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")):
        return True
    tf = sys.modules.get("tensorflow")
    return tf is not None and tf.config.threading.get_intra_op_parallelism_threads() == 1 \
        and tf.config.threading.get_inter_op_parallelism_threads() == 1


def onednn_here() -> dict[str, str] | None:
    """{$TF_ENABLE_ONEDNN_OPTS: "1" or "0"}: TensorFlow's oneDNN kernels as this process
    runs them (read once, when it started; no run here changes them), for new processes
    to compute as it does; {} where TensorFlow is not imported yet (a run here imports it
    as the CLI does: --onednn=auto); None where it is but its setting is unknown."""
    if "tensorflow" not in sys.modules:
        return {}
    try:
        from tensorflow.python.util._pywrap_util_port import IsMklEnabled
    except ImportError:
        return None
    return {ONEDNN_ENV: "1" if IsMklEnabled() else "0"}


def _exit_status(argv: list[str]) -> int:
    """Parses the flags and runs main; the status a process would exit with."""
    try:
        app.define_help_flags()
        main_argv = cli.parse_flags(argv)
        if cli.FLAGS["verbosity"].using_default_value:  # As app.run does after parsing.
            cli.FLAGS.verbosity = 0
        cli.main(main_argv)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001  (an uncaught exception: a traceback, status 1)
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


@contextlib.contextmanager
def _process_like_logging():
    """The absl handler on the root logger, writing to the (captured) stderr, as
    `app.run` installs it; the loggers' levels and handlers restored after."""
    root, package = logging.getLogger(), logging.getLogger("lenet_bench")
    saved = root.level, package.level, list(root.handlers)
    handler = absl_logging.PythonHandler(stream=sys.stderr)
    root.addHandler(handler)
    try:
        yield
    finally:
        handler.flush()
        root.setLevel(saved[0])
        package.setLevel(saved[1])
        root.handlers[:] = saved[2]


@contextlib.contextmanager
def _process_like_warnings():
    """Python's default warning filters, and warnings printed to the (captured) stderr,
    instead of pytest's filters and its record of them."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, category, module in reversed(DEFAULT_WARNING_FILTERS):
            warnings.filterwarnings(action, category=category, module=module)
        warnings.showwarning = _show_warning
        yield


def _show_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

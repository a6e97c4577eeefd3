"""Ctrl-C on the command line: one line saying how to resume, exit status 130, at once.

Every file the suite writes goes to a temporary name and is renamed into place
(lenet_bench.files), and every finished epoch is in a run record or a group
checkpoint, so a process ended at any instant loses at most the epoch in
progress: the rerun of the same command resumes to the results an
uninterrupted study gives. SIGTERM (a scheduler's stop) keeps its default
action and ends the process at once (status 143). Ctrl-C ends it the same
way, with one line instead of a traceback from wherever Python happened to be
(an import, a TensorFlow op). On a Ray driver the first Ctrl-C unwinds instead
(KeyboardInterrupt: the engine cancels its tasks, the CLI disconnects and stops
the local Ray instance it started, whose agent processes an exit at once would
leave behind), and the CLI prints the same line; a second Ctrl-C ends it at
once. Ray tasks never write into the workdir, only the driver does
(lenet_bench.study.engines), so a task that outlives its driver changes nothing.

Only the command line installs this (`python -m lenet_bench` before its first
import, the `lenet-bench` script when it starts); a notebook or a program that
imports lenet_bench, its `__main__` included, keeps Python's KeyboardInterrupt.
"""

import os
import signal
import sys

INTERRUPTED_STATUS = 130  # 128 + SIGINT: what a shell reports for a process Ctrl-C ended.
RESUME_LINE = "interrupted: finished epochs are saved; rerun the same command to resume"

_installed_by = None  # The pid that installed the handler (a forked child says nothing).
# The stderr of the start: the CLI points descriptor 2 at /dev/null while TensorFlow's
# native code starts (__main__.import_tensorflow_quietly), and the line must still show.
_stderr_descriptor = None
_unwinding = False  # A Ray driver's first Ctrl-C is unwinding (KeyboardInterrupt).


def exit_at_once_on_ctrl_c() -> None:
    """From now on SIGINT writes RESUME_LINE to stderr and ends the process with status 130.

    A process started with SIGINT ignored (a shell's background job, `cmd &`) keeps
    ignoring it, as it would without lenet_bench.
    """
    global _installed_by, _stderr_descriptor
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN or _installed_by == os.getpid():
        return
    _installed_by, _stderr_descriptor = os.getpid(), os.dup(2)
    signal.signal(signal.SIGINT, _exit_interrupted)


def _exit_interrupted(signum, frame) -> None:
    global _unwinding
    if not _unwinding and _ray_is_connected():
        _unwinding = True
        raise KeyboardInterrupt  # The CLI prints RESUME_LINE once the engine has stopped.
    if os.getpid() == _installed_by:
        # A terminal shows "^C" and maybe a progress bar on the current line: start a new one.
        start = "\n" if sys.stderr is not None and sys.stderr.isatty() else ""
        os.write(_stderr_descriptor, f"{start}{RESUME_LINE}\n".encode())
    os._exit(INTERRUPTED_STATUS)


def _ray_is_connected() -> bool:
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()

"""Ctrl-C on a --engine=ray driver mid-task: which of its descendant processes outlive it?

Run from the repository root: .venv/bin/python benchmarks/faults/ray_ctrl_c.py WORKDIR
"""
import os, signal, subprocess, sys, time
from pathlib import Path

def descendants(pid):
    found, frontier = set(), [pid]
    while frontier:
        p = frontier.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for c in map(int, children):
                if c not in found:
                    found.add(c); frontier.append(c)
    return found

def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:110]
    except OSError:
        return None

workdir = sys.argv[1]
p = subprocess.Popen([".venv/bin/python", "-m", "lenet_bench", "--experiment=digits_smoke", "--epochs=40",
                      f"--workdir={workdir}", "--engine=ray", "--progress=none", "--tensorboard=false",
                      "--keras_models=false"], stderr=subprocess.PIPE, text=True,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
lines = []
for line in p.stderr:
    lines.append(line)
    if "groups submitted" in line:
        break
time.sleep(25)  # The task starts training on its worker.
tree = {pid: cmdline(pid) for pid in descendants(p.pid)}
print(f"driver {p.pid}; {len(tree)} descendants before Ctrl-C")
p.send_signal(signal.SIGINT)
rest = p.stderr.read(); p.wait()
print("driver exit status", p.returncode, "; last stderr line:", (lines + rest.splitlines(True))[-1].strip())
for wait in (2, 10, 30):
    time.sleep(wait if wait == 2 else wait - 2)
    alive = {pid: cmd for pid, cmd in tree.items() if cmdline(pid) is not None}
    print(f"after ~{wait} s: {len(alive)} of them alive", list(alive.values())[:6])
print("files in runs/ :", sorted(x.name for x in Path(workdir, "digits_smoke", "runs").glob("*")))

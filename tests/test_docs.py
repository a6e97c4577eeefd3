"""No committed doc, docstring or comment names a path of the machine the suite was built on or
a tracker reference: what a reader elsewhere sees must make sense there.

The rule, on the files git tracks:
- checked: every Markdown file (*.md, committed reports included), and the comments and
  docstrings of Python files and the comments of shell scripts, Makefiles and requirements
  files; raw outputs (*.log, *.txt, *.json) are records of what ran and are not checked;
- a machine path is `/work/`, `/root/`, `/home/<name>/` or any `/tmp/...` path: examples name a
  folder in the repository (`results/wd`) or a relative one instead, and a report's command
  line is written with paths relative to the repository;
- a tracker reference is "issue 19", "issues 19", "#20" (a number after #), "PR 7", "pull
  request 7".
"""

import io
import re
import subprocess
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MACHINE_PATH = re.compile(r"/work/|/root/|/home/[A-Za-z_][\w.-]*/|/tmp/\S")
TRACKER = re.compile(r"\b(?:issues?|PR|pull request)\s*#?\d+|(?<![\w&/#])#\d+\b",
                     re.IGNORECASE)
SHELL_COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def python_prose(text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring-like string statement of Python source."""
    found, previous = [], tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            found.append((token.start[0], token.string))
        elif token.type == tokenize.STRING and previous in (
                tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            found += [(token.start[0] + i, line)
                      for i, line in enumerate(token.string.splitlines())]
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return found


def shell_prose(text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment of a shell script, Makefile or requirements file."""
    return [(number, match.group(1)) for number, line in enumerate(text.splitlines(), 1)
            if (match := SHELL_COMMENT.search(line))]


def kind(path: str) -> str | None:
    """'markdown', 'python' or 'shell': how the rule reads `path`; None: not at all."""
    name = Path(path).name
    if name.endswith(".md"):
        return "markdown"
    if name.endswith(".py"):
        return "python"
    if (name.endswith(".sh") or name in ("Makefile", "run")
            or (name.startswith("requirements") and name.endswith(".txt"))):
        return "shell"
    return None


def prose(path: str, text: str) -> list[tuple[int, str]]:
    """The lines of `path` the rule reads: all of a Markdown file, the comments and docstrings
    of code; nothing of a raw output."""
    read = {"markdown": lambda: list(enumerate(text.splitlines(), 1)),
            "python": lambda: python_prose(text), "shell": lambda: shell_prose(text)}
    return read[kind(path)]() if kind(path) else []


def violations(path: str, text: str) -> list[str]:
    return [f"{path}:{number}: {line.strip()[:120]}" for number, line in prose(path, text)
            if MACHINE_PATH.search(line) or TRACKER.search(line)]


def test_no_doc_docstring_or_comment_names_a_machine_path_or_a_tracker_reference():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    found = []
    for path in tracked:
        file = REPO / path
        if kind(path) and file.is_file() and path != "tests/test_docs.py":  # it names the rule
            found += violations(path, file.read_text(errors="replace"))
    assert found == []


def test_the_checker_finds_what_it_must_and_passes_what_it_may():
    planted = '''"""Data from /work/shared/datasets, see issue 19."""
x = "/tmp/cache"  # a path in code is code, not prose
# written to /tmp/lenet_bench_ray (#20)
y = "#1f77b4"  # a colour
'''
    assert violations("m.py", planted) == [
        "m.py:1: \"\"\"Data from /work/shared/datasets, see issue 19.\"\"\"",
        "m.py:3: # written to /tmp/lenet_bench_ray (#20)"]
    assert violations("m.md", "run `--workdir=/home/alice/wd`\n[top](#results)\n") == [
        "m.md:1: run `--workdir=/home/alice/wd`"]
    assert violations("run.sh", 'WORK=${WORK:-results/x}  # PR 7\necho "#3"\n') == [
        "run.sh:1: # PR 7"]
    assert violations("requirements.txt", "# torch, pull request 12\ntorch==2\n") == [
        "requirements.txt:1: # torch, pull request 12"]
    assert violations("out.log", "/work/main/.venv issue 19\n") == []
    assert violations("README.md", "`--workdir=results/wd`, test 12 of 31, 455 runs\n") == []

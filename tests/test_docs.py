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


# --- README and docs/: links, the module map, flags and keywords that exist --------------
#
# README.md and docs/*.md are plain Markdown that GitHub renders; nothing builds them, so
# these tests are what keeps them true to the code: every relative link and anchor resolves,
# docs/architecture.md lists exactly the package's modules under their import-linter layers,
# and every `--flag`, `make` target and Python keyword they quote exists.

import ast
import tomllib

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9_-]*)")
# Flags of other tools that the docs quote, by tool: never ours.
FOREIGN_FLAGS = {
    "pip": {"dry-run", "no-deps"},
    "unshare (util-linux)": {"net", "map-root-user"},
    "tensorboard": {"logdir"},
    "ray job submit": {"address", "working-dir"},
    "pytest": {"durations"},
}


def split_markdown(text: str) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
    """([(language, code) of each fenced block], [(line number, line) outside fences])."""
    blocks, prose, language, code = [], [], None, []
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            if language is None:
                language, code = line.strip()[3:].strip() or "text", []
            else:
                blocks.append((language, "\n".join(code)))
                language = None
        elif language is not None:
            code.append(line)
        else:
            prose.append((number, line))
    return blocks, prose


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text: lower case, punctuation
    but `-` and `_` dropped, spaces as `-`, a repeated one numbered -1, -2, ..."""
    anchors, seen = set(), {}
    for _, line in split_markdown(text)[1]:
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            text_only = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))
            anchor = re.sub(r"[^\w\- ]", "", text_only.lower()).replace(" ", "-")
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def broken_links(path: Path, text: str) -> list[str]:
    """'path:line: target (why)' for each relative link or anchor that does not resolve."""
    found = []
    for number, line in split_markdown(text)[1]:
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            file = (path.parent / file_part).resolve()
            if file_part and not file.exists():
                found.append(f"{path.name}:{number}: {target} (no such file)")
            elif anchor and (file_part and file.suffix != ".md" or anchor not in github_anchors(
                    file.read_text() if file_part else text)):
                found.append(f"{path.name}:{number}: {target} (no such anchor)")
    return found


def test_every_relative_link_and_anchor_of_readme_and_docs_resolves():
    assert (REPO / "docs").is_dir() and len(DOCS) > 3
    assert [problem for path in DOCS for problem in broken_links(path, path.read_text())] == []


def test_the_link_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n## A `--flag`: here\n## A `--flag`: here\n")
    page = tmp_path / "page.md"
    text = ("[ok](other.md#a---flag-here-1) [ok](#mine) [web](https://example.org/x#y)\n"
            "[gone](missing.md) [bad](other.md#nothing) `[code](nowhere.md)`\n"
            "```\n[fenced](nowhere.md)\n```\n## Mine\n")
    assert broken_links(page, text) == ["page.md:2: missing.md (no such file)",
                                        "page.md:2: other.md#nothing (no such anchor)"]


def import_linter_layers() -> list[set[str]]:
    """The layers of pyproject.toml's layers contract, top first, as sets of module names."""
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(contract["layers"] for contract in contracts["contracts"]
                  if contract["type"] == "layers")
    return [{name.strip() for name in re.split(r"[|:]", layer)} for layer in layers]


def module_map(text: str) -> list[tuple[set[str], list[str]]]:
    """docs/architecture.md's module map: per `###` heading under '## Module map', the names
    it quotes and the module paths its table lists."""
    section = text.split("\n## Module map", 1)[1].split("\n## ", 1)[0]
    sections = []
    for line in section.splitlines():
        if line.startswith("### "):
            sections.append((set(INLINE_CODE.findall(line)), []))
        elif sections and (row := re.match(r"\|\s*`(lenet_bench/[\w/]+\.py)`\s*\|", line)):
            sections[-1][1].append(row.group(1))
    return sections


def test_the_module_map_lists_every_module_once_under_its_import_linter_layer():
    sections = module_map((REPO / "docs" / "architecture.md").read_text())
    listed = [module for _, modules in sections for module in modules]
    package = sorted(str(path.relative_to(REPO)) for path in (REPO / "lenet_bench").rglob("*.py"))
    assert sorted(listed) == package  # Every module, once; nothing that is not one.
    layers = [{name.removeprefix("lenet_bench.") for name in layer}
              for layer in import_linter_layers()]
    assert [names for names, _ in sections] == [{"lenet_bench"}, *layers]  # In the contract's order.
    for (names, modules), members in zip(sections[1:], import_linter_layers()):
        for module in modules:
            dotted = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            assert any(dotted == member or dotted.startswith(member + ".")
                       for member in members), f"{module} is listed under the wrong layer"
    assert sections[0][1] == ["lenet_bench/__init__.py"]


def main_flags() -> set[str]:
    """Every flag of `python -m lenet_bench`, absl's own (--helpfull, ...) included."""
    from absl import app
    from absl import flags as absl_flags

    import lenet_bench.__main__  # noqa: F401  (defines its flags)

    app.define_help_flags()
    return set(absl_flags.FLAGS)


def tool_flags(tool: str, candidates: set[str]) -> set[str]:
    """The candidates that `python -m lenet_bench.reports.<tool>` takes, found by parsing a
    command line with each (the tools parse their own flags: no table to read)."""
    import contextlib
    import io

    from lenet_bench.errors import InputError
    from lenet_bench.reports import compare, report

    values = {"margin": "1", "rank_runs_by": "best"}
    taken = set()
    for name in candidates:
        argument = f"--{name}={values.get(name, 'x')}"
        if tool == "compare":
            try:
                compare.parse_args(["compare", argument, "a", "b"])
                taken.add(name)
            except InputError:
                pass
        else:  # report: a known flag gets as far as the missing folder.
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                report.main(["report", "no/such/folder", argument])
            if "no such directory" in stderr.getvalue():
                taken.add(name)
    return taken


TOOL_COMMAND = re.compile(r"lenet_bench\.reports\.(compare|report)\b")


def unknown_flags(text: str, defined: set[str]) -> list[str]:
    """The `--flags` of `text` that are neither ours nor a named foreign tool's; on a line
    that runs the report or compare tool, those that tool does not take."""
    foreign = set().union(*FOREIGN_FLAGS.values())
    found = []
    for line in text.splitlines():
        names = FLAG.findall(line)
        tool = TOOL_COMMAND.search(line)
        if tool and names:
            found += sorted(set(names) - tool_flags(tool.group(1), set(names)))
            continue
        for name in names:
            known = (name in defined or name in foreign
                     or (name.startswith("no") and name[2:] in defined)
                     or (name.endswith("_") and any(flag.startswith(name) for flag in defined)))
            if not known:
                found.append(name)
    return found


def test_every_flag_quoted_in_readme_and_docs_exists():
    quoted = {name for path in DOCS for name in FLAG.findall(path.read_text())}
    # Prose may name a tool's flag away from its command line (compare's `--out`).
    defined = main_flags() | tool_flags("compare", quoted) | tool_flags("report", quoted)
    assert {path.name: unknown_flags(path.read_text(), defined) for path in DOCS} == {
        path.name: [] for path in DOCS}


def test_the_flag_check_finds_a_flag_that_does_not_exist():
    defined = main_flags()
    assert unknown_flags("`--seeds=3 --notensorboard --augment_` and `pip install --no-deps .`",
                         defined) == []
    assert unknown_flags("`--save_models` or `--out=x` and `--nosave_models`",
                         defined) == ["save_models", "out", "nosave_models"]
    assert unknown_flags("python -m lenet_bench.reports.compare A B --out=x --experiment=y\n"
                         "python -m lenet_bench.reports.report DIR --margin=1 --rank_runs_by=best\n",
                         defined) == []
    assert unknown_flags("python -m lenet_bench.reports.compare A B --margin=1\n"
                         "python -m lenet_bench.reports.report DIR --experiment=x\n",
                         defined) == ["margin", "experiment"]


def allowed_keywords() -> dict[str, set[str]]:
    """Callable name (as the docs call it) -> the keywords its real signature takes."""
    import dataclasses
    import inspect

    from lenet_bench import api, config, options
    from lenet_bench.records import decision, results
    from lenet_bench.reports import compare

    def parameters(function) -> set[str]:
        return {name for name, parameter in inspect.signature(function).parameters.items()
                if parameter.kind is not inspect.Parameter.VAR_KEYWORD}

    return {"run_study": parameters(api.run_study) | set(options.RUN_OPTIONS)
            | set(config.SETTINGS),
            "ExperimentConfig": {field.name for field in dataclasses.fields(config.ExperimentConfig)},
            "RunOptions": {field.name for field in dataclasses.fields(options.RunOptions)},
            "results.load": parameters(results.load),
            "results.summary": parameters(results.summary),
            "compare.compare": parameters(compare.compare),
            "decide": parameters(decision.decide), "race_look": parameters(decision.race_look)}


def python_snippets(text: str) -> list[ast.AST]:
    """The Python of a Markdown text: each ```python block (it must parse), and each inline
    code span that parses as an expression."""
    blocks, prose = split_markdown(text)
    trees = [ast.parse(code) for language, code in blocks if language == "python"]
    for _, line in prose:
        for span in INLINE_CODE.findall(line):
            try:
                trees.append(ast.parse(span, mode="eval"))
            except SyntaxError:
                pass
    return trees


def dotted_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted_name(node.value)}.{node.attr}"
    return ""


def unknown_keywords(trees: list[ast.AST], allowed: dict[str, set[str]]) -> list[str]:
    found = []
    for tree in trees:
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            name = dotted_name(call.func)
            for known, keywords in allowed.items():
                if name == known or name.endswith("." + known):
                    found += [f"{known}({keyword.arg}=...)" for keyword in call.keywords
                              if keyword.arg is not None and keyword.arg not in keywords]
    return found


def test_every_python_keyword_in_readme_docs_and_examples_is_in_the_real_signature():
    allowed = allowed_keywords()
    trees = [tree for path in DOCS for tree in python_snippets(path.read_text())]
    trees += [ast.parse(path.read_text()) for path in sorted((REPO / "examples").glob("*.py"))]
    calls = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Call)
             and dotted_name(node.func).endswith("run_study")]
    assert len(calls) >= 5  # The check reads the snippets it should.
    assert unknown_keywords(trees, allowed) == []


def test_the_keyword_check_finds_a_keyword_that_does_not_exist():
    text = ("```python\nstudy = lenet_bench.run_study('digits_smoke', 'results', seeds=2,\n"
            "                              keras_models=False, save_models=True)\n```\n"
            "In Python, `run_study(..., tensorboard=True, savemodels=True)`; "
            "`results.summary(df, by=['seed'], group=1)`.\n")
    assert unknown_keywords(python_snippets(text), allowed_keywords()) == [
        "run_study(save_models=...)", "run_study(savemodels=...)", "results.summary(group=...)"]


def test_every_make_target_quoted_exists():
    targets = set(re.findall(r"^([a-z]+):", (REPO / "Makefile").read_text(), re.MULTILINE))
    quoted = set()
    for path in DOCS:
        blocks, prose = split_markdown(path.read_text())
        code = [code for _, code in blocks] + [span for _, line in prose
                                                for span in INLINE_CODE.findall(line)]
        quoted |= {match for text in code for match in re.findall(r"\bmake ([a-z]+)\b", text)}
    assert {"bench", "test", "install"} <= quoted
    assert quoted <= targets


def test_readme_is_short_and_gives_the_two_set_up_commands_and_the_ci_test_command():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    blocks, _ = split_markdown(readme)
    first = [line.split("#")[0].strip() for line in blocks[0][1].splitlines()]
    assert [line for line in first if line] == ["make bench", "make test"]
    ci_commands = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
                   if line.strip().startswith("make ")]
    assert ci_commands == ["make test"]  # The test command .ci/run runs ...
    assert any(code.strip() == ci_commands[0] for _, code in blocks)  # ... is README's.

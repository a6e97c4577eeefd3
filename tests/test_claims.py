"""Every figure an experiment or a fused trainer states in its docstring, recomputed from the
committed benchmark file the statement names, so a rerun that changes a figure fails here until
the docstring follows it.

The format. A statement starts at a line that begins with a label and runs to the next blank
line or label; its lines are joined with single spaces:

  Result: <metric> <mean>[ +/- <std>][ %] over <n> seed(s)|fold(s) at <setting>
      [, the best of <k> grid points|trials] (<runs folder>)
  Result: not yet run<why, and the command>
  Time: <t> s|min|h of training over <n> runs on a <machine> (<runs folder>)
  Command: <the command that wrote the runs folder>
  Speed: [words] <figures in the grammar of their source, SPEED below> (<source file>[, run N])
  Speed: not yet measured<why>

- metric: `final test accuracy` (the last epoch), `best-epoch test accuracy` (the epoch with
  the best test accuracy, so optimistic), `validation accuracy` (a search's folds: the runs
  with a `split`, last epoch) or `OOD AUROC` (max softmax as an out-of-distribution
  detector); accuracies in %, mean and sample std (ddof=1) over the runs, std omitted for one
  run. Every metric but the validation accuracy reads the runs without a `split`.
- setting: `its setting` (the folder's runs are one setting) or `field=value ...`, matched
  against each run file's `spec` (the seed and the search split aside, the runs it picks must
  be one setting); `the best of k` claims k settings in the folder and the highest mean at
  this one.
- time: the runs' `wall_seconds` summed (a fused group's time is shared among its runs).
- machine: the runs' `device` (or the source's device line) must be named in it.

Besides the figures: every run in the folder is a run of the module's `get_config()` (its
spec is one the config defines), so a config changed after its runs fails until it is rerun
or the statement says `not yet run`; the command names the experiment and the workdir that
holds the folder. Numbers compare as written: a figure given to two decimals must be the
recomputed value rounded to two decimals.
"""

import ast
import dataclasses
import functools
import json
import re
import shlex
import statistics
from pathlib import Path

import pytest

from experiments import EXPERIMENTS
from lenet_bench import runs
from lenet_bench.study import search_space

REPO = Path(__file__).resolve().parent.parent
TRAINERS = ("lenet_bench/trainers/fused_tf.py", "lenet_bench/trainers/fused_jax.py")
LABELS = ("Result", "Time", "Command", "Speed")
NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")

METRICS = {  # name -> (value of one run file, read from the runs with a search split)
    "final test accuracy": (lambda run: 100 * run["history"]["test_accuracy"][-1], False),
    "best-epoch test accuracy": (lambda run: 100 * run["best_test_accuracy"], False),
    "validation accuracy": (lambda run: 100 * run["history"]["test_accuracy"][-1], True),
    "OOD AUROC": (lambda run: run["ood"]["auroc"], False),
}
RESULT = re.compile(
    r"(?P<metric>" + "|".join(METRICS) + r") (?P<mean>\d+\.\d+)(?: \+/- (?P<std>\d+\.\d+))?"
    r"(?P<percent> %)? over (?P<n>\d+) (?:seeds?|folds?) at (?P<setting>its setting|\w+=\S+"
    r"(?: \w+=\S+)*?)(?:, the best of (?P<points>\d+) (?:grid points|trials))? "
    r"\((?P<source>benchmarks/\S+/runs)\)\.?")
TIME = re.compile(r"(?P<time>\d+(?:\.\d+)?) (?P<unit>s|min|h) of training over (?P<n>\d+) runs? "
                  r"on an? (?P<machine>.+?) \((?P<source>benchmarks/\S+/runs)\)\.?")
SECONDS_PER = {"s": 1, "min": 60, "h": 3600}


# --- Reading the statements -------------------------------------------------------------

def docstring(path: Path) -> str:
    """The module docstring, read without importing the module (a trainer imports TF or JAX)."""
    return ast.get_docstring(ast.parse(path.read_text())) or ""


def statements(doc: str) -> list[tuple[str, str]]:
    """(label, text) of every labelled statement of a docstring."""
    found, current = [], None
    for line in doc.splitlines():
        label, _, rest = line.partition(":")
        if label in LABELS:
            current = [label, rest.strip()]
            found.append(current)
        elif current and line.strip():
            current[1] += " " + line.strip()
        else:
            current = None
    return [tuple(item) for item in found]


def same_number(claimed: str, value: float) -> bool:
    """True when `value` rounded as `claimed` is written (commas as thousands) reads the same."""
    text = claimed.replace(",", "")
    decimals = len(text.partition(".")[2])
    return f"{value:.{decimals}f}" == text


def machine_named(device: str, phrase: str) -> bool:
    """'CPU: Intel(R) Xeon(R) Processor' is named by '2-core Intel Xeon CPU'."""
    kind, _, name = device.partition(": ")
    name = name.replace("(R)", "").replace(" Processor", "").strip()
    return name in phrase and phrase.endswith(kind)


# --- The run files ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def run_files(folder: str) -> tuple[dict, ...]:
    paths = sorted((REPO / folder).glob("*.json"))
    assert paths, f"{folder}: no run files"
    return tuple(json.loads(path.read_text()) for path in paths)


def spec(run: dict) -> runs.RunSpec:
    """The run's spec, the fields it predates at their defaults (the full study's pieces ran
    on versions with and without some fields)."""
    return runs.spec_from_record(run["spec"])


def setting_of(run: dict) -> runs.RunSpec:
    return dataclasses.replace(spec(run), seed=0, split="")


def matches(run: dict, wanted: dict[str, str]) -> bool:
    for field, text in wanted.items():
        value = getattr(spec(run), field)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if str(value) != text:
                return False
        elif value != float(text):
            return False
    return True


@functools.lru_cache(maxsize=None)
def config_specs(name: str) -> frozenset:
    """Every run the experiment's get_config() defines (a search: every trial on every
    split, and on the whole training set)."""
    config = EXPERIMENTS[name].get_config()
    if not config.search:
        return frozenset(runs.run_specs(config))
    splits = search_space.selection_splits(config) + [""]
    return frozenset(spec for params in search_space.sample_trials(config) for split in splits
                     for spec in runs.run_specs(search_space.trial_config(config, params, split)))


def check_folder(name: str, folder: str) -> list[str]:
    """The folder's runs are runs of `name`'s config as it stands."""
    strangers = [run["key"] for run in run_files(folder)
                 if run["experiment"] != name
                 or spec(run) not in config_specs(name)]
    return [f"{folder}: {len(strangers)} runs are not runs of {name}.get_config(), e.g. "
            f"{strangers[0]}"] if strangers else []


# --- One statement ----------------------------------------------------------------------

def check_result(text: str) -> list[str]:
    match = RESULT.fullmatch(text)
    if not match:
        return [f"Result: {text!r} does not follow the format (tests/test_claims.py)"]
    value, split_runs = METRICS[match["metric"]]
    pool = [run for run in run_files(match["source"]) if bool(spec(run).split) == split_runs]
    chosen = pool
    if match["setting"] != "its setting":
        wanted = dict(pair.split("=", 1) for pair in match["setting"].split())
        chosen = [run for run in pool if matches(run, wanted)]
    if len({setting_of(run) for run in chosen}) > 1:
        return [f"Result: {match['setting']!r} is several settings of {match['source']}"]
    values = [value(run) for run in chosen]
    if len(values) != int(match["n"]):
        return [f"Result: {match['setting']} has {len(values)} runs in {match['source']}, "
                f"not {match['n']}"]
    errors = []
    if not same_number(match["mean"], statistics.mean(values)):
        errors.append(f"Result: mean {match['mean']}, recomputed {statistics.mean(values):.4f}")
    if (match["std"] is None) != (len(values) == 1):
        errors.append("Result: a std is given exactly when there is more than one run")
    elif match["std"] and not same_number(match["std"], statistics.stdev(values)):
        errors.append(f"Result: std {match['std']}, recomputed {statistics.stdev(values):.4f}")
    if bool(match["percent"]) == (match["metric"] == "OOD AUROC"):
        errors.append("Result: accuracies are in %, the AUROC has no unit")
    if match["points"]:
        errors += check_best(match, pool, chosen, value)
    return errors


def check_best(match: re.Match, pool: list, chosen: list, value) -> list[str]:
    means = {}
    for run in pool:
        means.setdefault(setting_of(run), []).append(value(run))
    means = {setting: statistics.mean(values) for setting, values in means.items()}
    errors = []
    if len(means) != int(match["points"]):
        errors.append(f"Result: {len(means)} settings in {match['source']}, not {match['points']}")
    if max(means.values()) > statistics.mean(value(run) for run in chosen):
        errors.append(f"Result: {match['setting']} is not the best setting of {match['source']}")
    return errors


def check_time(text: str) -> list[str]:
    match = TIME.fullmatch(text)
    if not match:
        return [f"Time: {text!r} does not follow the format (tests/test_claims.py)"]
    found = run_files(match["source"])
    seconds = sum(run["wall_seconds"] for run in found)
    errors = []
    if len(found) != int(match["n"]):
        errors.append(f"Time: {len(found)} runs in {match['source']}, not {match['n']}")
    if not same_number(match["time"], seconds / SECONDS_PER[match["unit"]]):
        errors.append(f"Time: {match['time']} {match['unit']}, recomputed {seconds:.1f} s")
    devices = {run["device"] for run in found}
    if len(devices) != 1 or not machine_named(devices.pop(), match["machine"]):
        errors.append(f"Time: {match['machine']!r} is not the runs' device")
    return errors


# --- Speed: one grammar and one reader per source file ----------------------------------

def fused_speed_json(match: re.Match) -> dict:
    record = json.loads((REPO / "benchmarks/fused_speed.json").read_text())
    case = [entry for entry in record["cases"] if entry["case"] == match["case"]]
    fused = [entry for entry in case
             if entry["path"] == "default" and entry["onednn_asked"] == match["onednn"]]
    naive = {entry["onednn_asked"]: entry["images_per_second"] for entry in case
             if entry["path"] == "naive"}
    assert len(fused) == 1 and "tf_default" in naive, f"{match['case']}: no such case"
    images = fused[0]["images_per_second"]
    # The benchmark trains its runs as one group (lenet_bench.bench.benchmark: make_groups
    # with the group size of all of them), so its replicas are its runs.
    return {"value": images, "runs": fused[0]["runs"], "replicas": fused[0]["runs"],
            "naive": naive["tf_default"],
            "ratio": images / naive["tf_default"], "same": images / naive[match["onednn"]],
            "machine": (f"{record['machine']['cores']}-core {record['machine']['cpu']} CPU",)}


def three_way_txt(match: re.Match) -> dict:
    text = (REPO / "benchmarks/whole_process/three_way.txt").read_text()
    seconds = {case: float(value) for case, value
               in re.findall(r"^(keras|torch|suite) +(\d+\.\d+) +\d+ ", text, re.MULTILINE)}
    work = re.search(r"work per case: (\d+) runs x 1 epoch .*, batch (\d+)", text)
    cpu = re.search(r"^CPU: (.+); (\d+) logical cores", text, re.MULTILINE)
    return {"suite": seconds["suite"], "keras": seconds["keras"],
            "ratio": seconds["keras"] / seconds["suite"], "runs": int(work[1]),
            "batch": int(work[2]), "machine": (f"{cpu[2]}-core {cpu[1]} CPU",)}


def jax_cpu_speed_txt(match: re.Match) -> dict:
    text = (REPO / "benchmarks/jax_cpu_speed.txt").read_text()
    section = text.split(f"## Run {match['run']} ")[1].split("\n## ")[0]
    row = re.compile(r"^(jax per-run|jax vmap|jax matmul|tf fused) +(\d+) +\S+ +\S+ +(\d+) "
                     r"+.* (\d+\.\d+)x$", re.MULTILINE)
    rows = {(trainer, int(replicas)): (float(images), float(ratio))
            for trainer, replicas, images, ratio in row.findall(section)}
    replicas = int(match["replicas"])
    device = re.search(r"device: CPU: (.+); cores: (\d+)", section)
    work = re.search(r"R runs x (\d+) epochs of (\d+) images \S+, batch (\d+)", section)
    return {"value": rows["jax matmul", replicas][0], "ratio": rows["jax matmul", replicas][1],
            "lone": rows["jax per-run", 1][0], "vmap": rows["jax vmap", replicas][0],
            "vs_vmap": rows["jax matmul", replicas][0] / rows["jax vmap", replicas][0],
            "epochs": int(work[1]), "images": int(work[2]), "batch": int(work[3]),
            "machine": (f"{device[2]}-core {device[1]} CPU",)}


def gpu_probe_log(match: re.Match) -> dict:
    text = (REPO / "benchmarks/gpu/2026-11-30-probe.log").read_text()
    shape = ", ".join(match["shape"].split("x"))
    section = text.split(f"shape ({shape})")[1].split("device ")[0]
    batch = int(match["batch"])
    naive = re.search(rf"naive Keras fit B= *{batch}: .* ([\d,]+) images/s", section)[1]
    fused = re.search(rf"R= *{match['replicas']} B= *{batch}: .* ([\d,]+) replica-images/s",
                      section)[1]
    naive, fused = (float(figure.replace(",", "")) for figure in (naive, fused))
    return {"value": fused, "naive": naive, "ratio": fused / naive,
            "machine": (re.search(r"GPU 0: (NVIDIA \S+)", text)[1],)}


SPEED = {
    "benchmarks/fused_speed.json": (
        r"(?P<value>[\d,]+) images/s on (?P<case>\w+:\d+) with oneDNN (?P<onednn>on|tf_default), "
        r"(?P<ratio>\d+\.\d+)x plain Keras fit with TensorFlow's defaults \((?P<naive>[\d,]+) "
        r"images/s\)(?:, (?P<same>\d+\.\d+)x with oneDNN on in both)?; (?P<runs>\d+) runs x 1 "
        r"epoch as one group of (?P<replicas>\d+) replicas.*? on a (?P<machine>.+?)",
        fused_speed_json),
    "benchmarks/whole_process/three_way.txt": (
        r"(?P<suite>\d+\.\d) s for the whole process of (?P<runs>\d+) runs x 1 epoch at batch "
        r"(?P<batch>\d+).*?, (?P<ratio>\d+\.\d+)x plain Keras fit \((?P<keras>\d+\.\d) s\), on "
        r"a (?P<machine>.+?)", three_way_txt),
    "benchmarks/jax_cpu_speed.txt": (
        r"(?P<value>[\d,]+) replica-images/s with (?P<replicas>\d+) replicas at batch "
        r"(?P<batch>\d+), (?P<ratio>\d+\.\d+)x one lone replica on the per-run JAX trainer "
        r"\((?P<lone>[\d,]+)\) and (?P<vs_vmap>\d+\.\d+)x the vmapped Keras model "
        r"\((?P<vmap>[\d,]+)\), formulation 'matmul', (?P<epochs>\d+) epochs of (?P<images>[\d,]+) "
        r"images.*? on a (?P<machine>.+?)", jax_cpu_speed_txt),
    "benchmarks/gpu/2026-11-30-probe.log": (
        r"(?P<value>[\d,]+) replica-images/s at R=(?P<replicas>\d+) and batch (?P<batch>\d+) on "
        r"(?P<shape>\d+x\d+x\d+) images, (?P<ratio>\d+\.\d+)x plain Keras fit on the same GPU "
        r"\((?P<naive>[\d,]+) images/s\), on one (?P<machine>.+?)", gpu_probe_log),
}
SELECTORS = ("case", "onednn", "replicas", "shape", "run")


def check_speed(text: str) -> list[str]:
    source = re.search(r"\((benchmarks/\S+?)(?:, run (\d+))?\)\.?$", text)
    if not source or source[1] not in SPEED:
        return [f"Speed: {text!r} names none of the sources {sorted(SPEED)}"]
    grammar, reader = SPEED[source[1]]
    match = re.search(grammar + r" \(" + re.escape(source[1])
                      + r"(?:, run (?P<run>\d+))?\)\.?$", text)
    if not match:
        return [f"Speed: {text!r} does not follow the format for {source[1]}"]
    facts = reader(match)
    errors = [f"Speed: {name} {match[name]}, recomputed {facts[name]:.4f} from {source[1]}"
              for name, claimed in match.groupdict().items()
              if name in facts and name != "machine" and claimed is not None
              and not same_number(claimed, facts[name])]
    if not all(word in match["machine"] for word in facts["machine"]):
        errors.append(f"Speed: {match['machine']!r} is not {facts['machine']}")
    return errors


CHECKS = {"Result": check_result, "Time": check_time, "Speed": check_speed}
NO_CLAIM = {"Result": "not yet run", "Speed": "not yet measured"}


def check_statement(label: str, text: str) -> list[str]:
    if label in NO_CLAIM and text.startswith(NO_CLAIM[label]):
        return []
    return CHECKS[label](text)


# --- The tests --------------------------------------------------------------------------

def experiment_statements(name: str) -> list[tuple[str, str]]:
    return statements(docstring(REPO / "experiments" / f"{name}.py"))


def sources(found: list[tuple[str, str]]) -> set[str]:
    return {match["source"] for label, text in found if label in ("Result", "Time")
            for match in [(RESULT if label == "Result" else TIME).fullmatch(text)] if match}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_figure_an_experiment_states_is_its_runs(name):
    found = experiment_statements(name)
    labels = [label for label, _ in found]
    assert "Result" in labels, f"experiments/{name}.py states no Result (or 'not yet run')"
    assert labels.count("Command") == 1, f"experiments/{name}.py: one Command, please"
    claims = [text for label, text in found if label == "Result"
              and not text.startswith(NO_CLAIM["Result"])]
    if claims:
        assert "Time" in labels, f"experiments/{name}.py: its figures need a Time"
    errors = [error for label, text in found if label in CHECKS
              for error in check_statement(label, text)]
    for folder in sources(found):
        errors += check_folder(name, folder)
    assert errors == []


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_the_command_names_the_experiment_and_the_folder_of_its_figures(name):
    found = experiment_statements(name)
    command = shlex.split(dict(found)["Command"])
    flags = dict(word.split("=", 1) for word in command if word.startswith("--") and "=" in word)
    assert command[:3] == ["python", "-m", "lenet_bench"]
    assert flags["--experiment"] == name
    for folder in sources(found):
        assert folder == f"{flags['--workdir']}/{name}/runs", folder


@pytest.mark.parametrize("path", TRAINERS)
def test_every_speed_a_fused_trainer_states_is_its_benchmark_file(path):
    found = [(label, text) for label, text in statements(docstring(REPO / path))]
    assert [label for label, _ in found if label == "Speed"], f"{path} states no Speed"
    assert [error for label, text in found if label in CHECKS
            for error in check_statement(label, text)] == []


def every_claim() -> list[tuple[str, str, str]]:
    files = [REPO / "experiments" / f"{name}.py" for name in sorted(EXPERIMENTS)]
    files += [REPO / path for path in TRAINERS]
    return [(path.name, label, text) for path in files
            for label, text in statements(docstring(path))
            if label in CHECKS and not text.startswith(NO_CLAIM.get(label, "\0"))]


def fails(label: str, text: str) -> bool:
    try:
        return bool(check_statement(label, text))
    except Exception:  # A changed selector (a case, a shape) finds nothing: the test errs.
        return True


def test_a_changed_digit_in_any_figure_fails():
    """Every number of every statement but its source and its core count (not in a run
    file) is checked: one more in its last digit, and the statement fails."""
    claims = every_claim()
    assert claims
    for where, label, text in claims:
        numbers = [number for number in NUMBER.finditer(text)
                   if not text[number.end():].startswith("-core")
                   and number.start() < text.rindex("(")]
        assert numbers, f"{where}: {label}: {text} states no figure"
        for number in numbers:
            digit = str((int(number.group()[-1]) + 1) % 10)
            wrong = text[:number.end() - 1] + digit + text[number.end():]
            assert fails(label, wrong), f"{where}: {label}: {wrong} passed"


def test_the_statements_are_read_as_written():
    doc = ("Title.\n\nResult: final test accuracy 1.00 %\n    over 2 seeds\n"
           "Time: 1 s\n\nMore prose.\n    Result: indented, so prose\n")
    assert statements(doc) == [("Result", "final test accuracy 1.00 % over 2 seeds"),
                               ("Time", "1 s")]
    assert same_number("96.88", 96.8760) and not same_number("96.88", 96.874)
    assert same_number("13,993", 13992.6) and not same_number("13,993", 13993.6)
    assert machine_named("CPU: Intel(R) Xeon(R) Processor", "2-core Intel Xeon CPU")
    assert not machine_named("CPU: AMD EPYC", "2-core Intel Xeon CPU")

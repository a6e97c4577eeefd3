"""benchmarks/gpu/run.sh and prepare.sh, checked cheaply: their shell syntax, the study
run.sh runs by default (the Makefile's whole study: experiments that exist, flags the CLI
defines, the run count its README states), its one-line stops on bad settings and failed
steps, and the folders prepare.sh fills kept out of git. Its --dry mode (the whole script at
tiny sizes on a CPU) is run by hand: benchmarks/gpu/README.md."""

import os
import re
import subprocess
from pathlib import Path

from experiments import EXPERIMENTS
from lenet_bench import runs
from lenet_bench.__main__ import FLAGS

REPO = Path(__file__).resolve().parent.parent
GPU = REPO / "benchmarks" / "gpu"
SCRIPT = GPU / "run.sh"


def study_experiments() -> list[str]:
    return re.search(r"^DEFAULT_EXPERIMENTS=(\S+)$", SCRIPT.read_text(), re.M).group(1).split(",")


def run_script(tmp_path, *args, **environment) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(tmp_path / "out"), **environment}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_the_scripts_parse_and_a_bad_argument_exits_2(tmp_path):
    for script in (SCRIPT, GPU / "prepare.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    done = run_script(tmp_path, "--fast")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "error: unexpected argument '--fast': expected nothing or --dry\n"


def test_bad_settings_stop_with_one_line(tmp_path):
    done = run_script(tmp_path, TIME_LIMIT="10m")
    assert (done.returncode, done.stderr) == (
        2, "error: TIME_LIMIT=10m: expected a whole number of seconds\n")
    done = run_script(tmp_path, WHEELS=str(tmp_path))
    assert (done.returncode, done.stderr) == (
        2, f"error: WHEELS={tmp_path} holds no .whl files: expected the folder prepare.sh "
           "filled\n")


def test_a_failed_step_stops_the_script_with_a_line_naming_it(tmp_path):
    done = run_script(tmp_path, "--dry", PYTHON=str(tmp_path / "no-python"))
    assert done.returncode == 127
    lines = done.stdout.splitlines()
    assert lines[-1] == "error: step 'versions' failed (exit status 127): versions"
    assert not [line for line in lines if line.startswith(("=== speed", "=== study", "tar"))]
    assert (tmp_path / "out" / "gpu-check.log").read_text() == done.stdout


def test_the_default_study_is_the_whole_study_and_runs_what_the_readme_says():
    names = study_experiments()
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^BENCH_EXPERIMENTS := (\S+)$", makefile, re.M).group(1).split(",") == names
    assert [name for name in names if name not in EXPERIMENTS] == []
    assert {EXPERIMENTS[name].get_config().dataset for name in names} == {
        "mnist", "fashion_mnist", "cifar10"}
    count = sum(len(runs.run_specs(EXPERIMENTS[name].get_config())) for name in names)
    assert count == 605
    assert f"({count} runs)" in SCRIPT.read_text()
    assert f"{count} runs" in (GPU / "README.md").read_text()


def test_the_study_flags_are_the_clis():
    text = SCRIPT.read_text()
    flags_block = re.search(r"^STUDY_FLAGS=\((.*?)\)$", text, re.M | re.S).group(1)
    dry_block = re.search(r"STUDY_FLAGS\+=\((.*?)\)$", text, re.M).group(1)
    names = set(re.findall(r"--(\w+)", flags_block + dry_block)) | {"report_only", "data_dir"}
    assert {"backend", "trainer", "group_size", "workdir", "experiment"} <= names
    assert sorted(name for name in names if name not in FLAGS) == []


def test_the_folders_prepare_fills_are_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", ".whl/x.whl", ".gpu-data/mnist/x.gz"],
                             cwd=REPO, capture_output=True, text=True)
    assert ignored.stdout.split() == [".whl/x.whl", ".gpu-data/mnist/x.gz"]

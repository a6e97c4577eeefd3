"""benchmarks/gpu/run.sh, the GPU check, checked cheaply: its shell syntax, its study command
(experiments that exist, flags the CLI defines, the run count its README states) and the
folders it carries kept out of git. Its --dry mode is run by hand (benchmarks/gpu/README.md)."""

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
    return re.search(r"^EXPERIMENTS=(\S+)$", SCRIPT.read_text(), re.M).group(1).split(",")


def test_the_scripts_parse_and_a_bad_argument_exits_2():
    for script in (SCRIPT, GPU / "prepare.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    done = subprocess.run(["bash", str(SCRIPT), "--fast"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "error: unexpected argument '--fast': expected nothing or --dry\n"


def test_the_study_runs_what_the_readme_says():
    names = study_experiments()
    assert [name for name in names if name not in EXPERIMENTS] == []
    assert {EXPERIMENTS[name].get_config().dataset for name in names} == {"mnist", "fashion_mnist"}
    count = sum(len(runs.run_specs(EXPERIMENTS[name].get_config())) for name in names)
    assert count == 420
    assert f"({count} runs)" in SCRIPT.read_text()
    assert f"{count} runs" in (GPU / "README.md").read_text()


def test_the_study_flags_are_the_clis():
    text = SCRIPT.read_text()
    flags_block = re.search(r"^STUDY_FLAGS=\((.*?)\)$", text, re.M | re.S).group(1)
    dry_block = re.search(r"STUDY_FLAGS\+=\((.*?)\)$", text, re.M).group(1)
    names = set(re.findall(r"--(\w+)", flags_block + dry_block)) | {"report_only"}
    assert {"backend", "trainer", "group_size", "data_dir", "workdir"} <= names
    assert sorted(name for name in names if name not in FLAGS) == []


def test_the_carried_folders_are_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", ".whl/x.whl", ".gpu-data/mnist/x.gz"],
                             cwd=REPO, capture_output=True, text=True)
    assert ignored.stdout.split() == [".whl/x.whl", ".gpu-data/mnist/x.gz"]

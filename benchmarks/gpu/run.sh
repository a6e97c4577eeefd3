#!/usr/bin/env bash
# The study on an NVIDIA GPU with JAX: the fused JAX trainer's speed, then the whole study
# (605 runs) with --backend=jax --trainer=fused, its reports and a summary. From anywhere:
#   bash benchmarks/gpu/run.sh           on the GPU machine (after `make install GPU=jax`)
#   bash benchmarks/gpu/run.sh --dry     any CPU with JAX: the same steps at tiny sizes
# Everything lands in $OUT (default results/gpu-<UTC time>): speed.{txt,json}, study/ (a
# workdir: study/REPORT.md is its index) and gpu-check.log, this script's whole output.
# Environment (all optional):
#   PYTHON       the Python to run (default .venv/bin/python, else python3)
#   DATA_DIR     the datasets' root (default $LENET_BENCH_DATA, else ../shared/datasets if
#                present, else Keras's download cache)
#   EXPERIMENTS  comma-separated experiments (default: the whole study, as `make bench` runs it)
#   TRAINER      fused (default) or keras, the per-run Keras trainer
#   TIME_LIMIT   seconds the study may take; unset: no limit. When it runs out, the reports
#                are rebuilt from the runs that finished, and a rerun resumes the rest
#   SKIP_SPEED=1 no speed benchmark
#   WHEELS=DIR   offline install first: every wheel in DIR, with pip install --no-index
#                --find-links DIR (prepare.sh fills DIR); TARGET=DIR2 installs them into DIR2,
#                put on PYTHONPATH, for a Python you cannot install into
#   PACK=1       also pack $OUT into $OUT/gpu-check.tar.gz (no models, weights, checkpoints)
# A step that fails stops the script with one line naming it ("error: step ... failed").
# JAX_DEFAULT_MATMUL_PRECISION=highest: at the default, cuDNN uses TF32 on Hopper and replica 0
# of a fused group differs from its lone run by 5e-3 in the weights after 3 steps; at highest,
# by 2e-7, for about 6% of throughput (benchmarks/gpu/2026-11-30-probe-precision.log).
set -euo pipefail
cd "$(dirname "$0")/../.."
DRY=0
case "${1:-}" in
  "") ;;
  --dry) DRY=1 ;;
  *) echo "error: unexpected argument '$1': expected nothing or --dry" >&2; exit 2 ;;
esac
fail() { echo "error: $*" >&2; exit 2; }
if [ -n "${TIME_LIMIT:-}" ] && ! [[ $TIME_LIMIT =~ ^[1-9][0-9]*$ ]]; then
  fail "TIME_LIMIT=$TIME_LIMIT: expected a whole number of seconds"
fi
if [ -n "${WHEELS:-}" ] && ! compgen -G "$WHEELS/*.whl" >/dev/null; then
  fail "WHEELS=$WHEELS holds no .whl files: expected the folder prepare.sh filled"
fi
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${OUT:-results/gpu-$(date -u +%Y-%m-%dT%H%M%S)}
DATA_DIR=${DATA_DIR:-${LENET_BENCH_DATA:-$( [ -d ../shared/datasets ] && echo ../shared/datasets )}}
mkdir -p "$OUT"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 JAX_DEFAULT_MATMUL_PRECISION=highest
export TF_CPP_MIN_LOG_LEVEL=2
# The whole study, the same list as the Makefile's BENCH_EXPERIMENTS.
DEFAULT_EXPERIMENTS=mnist_init_lr_grid,mnist_label_noise,mnist_best,fashion_mnist_init_lr_grid,cifar10_init_lr_grid,fashion_mnist_label_noise,fashion_mnist_best,cifar10_best
EXPERIMENTS=${EXPERIMENTS:-$DEFAULT_EXPERIMENTS}
# make_groups packs one seed's runs of a grid together (36 here) and lone runs across
# seeds; 180 lets a whole grid be one group wherever the packing allows it.
GROUP_SIZE=180
DATA_FLAGS=()
if [ -n "$DATA_DIR" ]; then DATA_FLAGS=(--data_dir="$DATA_DIR"); fi
STUDY_FLAGS=(--experiment="$EXPERIMENTS" --workdir="$OUT/study" --skip_missing_data
             --backend=jax --trainer="${TRAINER:-fused}" --group_size=$GROUP_SIZE
             --keras_models=false --progress=log)
if [ $DRY = 1 ]; then
  SPEED_FLAGS=(--dry)
  STUDY_FLAGS+=(--train_size=500 --epochs=1 --seeds=1 --lr_decay=0.9 --initializer=truncated_normal)
else
  SPEED_FLAGS=(--naive_runs=2)
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Each fused group compiles its own jitted epoch; groups of one shape (a grid's 5 seeds) then
# reuse the first one's executable from JAX's persistent cache: on a CPU a second group's
# first epoch took 5.0 s instead of 9.5 s (benchmarks/gpu/jax_compilation_cache_cpu.txt).
export JAX_COMPILATION_CACHE_DIR="$scratch/jax-cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
export JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
START=$SECONDS

step() {  # step NAME COMMAND...: runs COMMAND, says how long it took; a failure stops here
  local name=$1 began=$SECONDS rc=0
  shift
  echo "=== $name: $*"
  "$@" || rc=$?
  echo "=== $name: exit status $rc after $((SECONDS - began)) s;" \
       "$((SECONDS - START)) s since the start"
  [ $rc = 0 ] || { echo "error: step '$name' failed (exit status $rc): $*"; exit $rc; }
}

install_wheels() {  # the offline install: every wheel in $WHEELS, no index
  local into=()
  if [ -n "${TARGET:-}" ]; then
    into=(--target "$TARGET")
    export PYTHONPATH="$TARGET${PYTHONPATH:+:$PYTHONPATH}"
  fi
  step install "$PY" -m pip install -q --no-index --find-links "$WHEELS" "${into[@]}" \
    "$WHEELS"/*.whl
}

versions() {  # Python, JAX (and its devices), Keras; fails unless JAX sees a GPU, or --dry
  "$PY" - "$DRY" <<'PYEOF'
import sys

import jax
import keras

print("python", sys.version.split()[0], "| jax", jax.__version__, jax.devices(), "| keras",
      keras.__version__)
if jax.default_backend() != "gpu" and sys.argv[1] != "1":
    sys.exit("JAX sees no GPU: install its CUDA build (make install GPU=jax, or pip install "
             "-r requirements-gpu-jax.txt), or run with --dry on a CPU")
PYEOF
}

study() {  # the study, under TIME_LIMIT if set; past it, the reports of what finished
  local rc=0
  if [ -z "${TIME_LIMIT:-}" ]; then
    step study "$PY" -m lenet_bench "${STUDY_FLAGS[@]}" "${DATA_FLAGS[@]}"
    return
  fi
  echo "=== study (TIME_LIMIT ${TIME_LIMIT} s): $PY -m lenet_bench ${STUDY_FLAGS[*]} ${DATA_FLAGS[*]}"
  timeout "$TIME_LIMIT" "$PY" -m lenet_bench "${STUDY_FLAGS[@]}" "${DATA_FLAGS[@]}" || rc=$?
  if [ $rc = 124 ]; then
    echo "=== study: TIME_LIMIT reached after $TIME_LIMIT s: the reports of the runs that" \
         "finished (run again to resume the rest)"
    step report "$PY" -m lenet_bench "${STUDY_FLAGS[@]}" "${DATA_FLAGS[@]}" --report_only
  elif [ $rc != 0 ]; then
    echo "error: step 'study' failed (exit status $rc)"; exit $rc
  fi
}

summarize() {  # the study's runs: how many finished, image-steps, wall clock, mean test accuracy
  "$PY" - "$OUT/study" <<'PYEOF'
import json, sys
from datetime import datetime
from pathlib import Path

root = Path(sys.argv[1])
if not root.is_dir():
    sys.exit(f"{root}: no study folder (the study did not start)")
total = {"runs": 0, "done": 0, "image_steps": 0}
first, last = None, None
for folder in sorted(p for p in root.iterdir() if (p / "runs").is_dir()):
    records = [json.loads(p.read_text()) for p in (folder / "runs").glob("*.json")]
    done = [r for r in records if r.get("status") == "done"]
    steps = sum(r["epochs_done"] * r["train_size"] for r in records)
    accuracy = [r["history"]["test_accuracy"][-1] for r in done if r["history"]["test_accuracy"]]
    mean = f"{100 * sum(accuracy) / len(accuracy):.2f}%" if accuracy else "-"
    print(f"{folder.name:28s} {len(done):3d}/{len(records):3d} runs done, "
          f"{steps:12,} image-steps, mean final test accuracy {mean}")
    total["runs"] += len(records); total["done"] += len(done); total["image_steps"] += steps
    for r in records:
        started, finished = r.get("started"), r.get("finished")
        if started and (first is None or started < first):
            first = started
        if finished and (last is None or finished > last):
            last = finished
if first and last:
    seconds = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    print(f"all: {total['done']}/{total['runs']} runs done, {total['image_steps']:,} "
          f"image-steps in {seconds:.0f} s from the first run's start to the last run's end "
          f"({total['image_steps'] / max(seconds, 1e-9):,.0f} image-steps/s)")
PYEOF
}

pack() {  # $OUT's results in one tarball, without models, weights and checkpoints
  local tarball="$OUT/gpu-check.tar.gz" members=() name
  for name in speed.txt speed.json study; do
    if [ -e "$OUT/$name" ]; then members+=("$name"); fi
  done
  step pack tar czf "$tarball" -C "$OUT" --exclude='*.keras' --exclude='*.weights.h5' \
    --exclude='*.ckpt.npz' "${members[@]}"
  echo "packed: $(du -h "$tarball" | cut -f1) $tarball"
}

main() {
  echo "GPU study, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname), $(nproc) cores," \
       "output in $OUT$([ $DRY = 1 ] && echo ', DRY RUN (tiny sizes)')"
  if [ -n "${WHEELS:-}" ]; then install_wheels; fi
  nvidia-smi -L 2>/dev/null || echo "no nvidia-smi here"
  step versions versions
  if [ -z "${SKIP_SPEED:-}" ]; then
    step speed "$PY" -m lenet_bench.bench.benchmark_jax "${DATA_FLAGS[@]}" --out="$OUT/speed" \
      "${SPEED_FLAGS[@]}"
  fi
  study
  echo "=== summary of the study's runs"
  summarize
  if [ -n "${PACK:-}" ]; then pack; fi
  echo "=== done in $((SECONDS - START)) s; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
}

set +e  # the pipeline's status is main's, read below
main 2>&1 | grep --line-buffered -v -E "^(WARNING: All log messages|I0000|E0000|W0000)" \
  | tee "$OUT/gpu-check.log"
exit "${PIPESTATUS[0]}"

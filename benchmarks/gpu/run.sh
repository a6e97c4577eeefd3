#!/usr/bin/env bash
# The GPU check (issue 19): one prepared script for the GPU machine (one H200, JAX with CUDA,
# no TensorFlow, no Keras, no network). From the repository root, after
# `bash benchmarks/gpu/prepare.sh` here (fills .whl/ and .gpu-data/, both carried):
#   OUT=$OUT bash benchmarks/gpu/run.sh          on the GPU machine (about 8 minutes at most)
#   PYTHON=.venv/bin/python bash benchmarks/gpu/run.sh --dry    here: the same steps, tiny sizes
# Steps, each under `timeout`, each with the seconds it took:
#   1. install .whl/*.whl (keras, namex, optree) into a temporary folder if keras is missing;
#   2. nvidia-smi -L, the versions JAX and Keras report;
#   3. the speed benchmark (lenet_bench.bench.benchmark_jax -> $OUT/speed.txt, speed.json);
#   4. the MNIST and Fashion-MNIST parts of the study (420 runs) with --backend=jax
#      --trainer=fused, with their reports (rebuilt from what finished if the step ran out of time);
#   5. a summary of the runs, then everything under $OUT/study packed into $OUT/gpu-check.tar.gz
#      (no .keras models, weights or checkpoints; at most 15 MiB) beside the plain log
#      $OUT/gpu-check.log.
# JAX_DEFAULT_MATMUL_PRECISION=highest: at the default, cuDNN uses TF32 on Hopper and replica 0
# of a fused group differs from its lone run by 5e-3 in the weights after 3 steps; at highest,
# by 2e-7, for about 6% of throughput (benchmarks/gpu/2026-11-30-probe-precision.log).
# Knobs (environment): TOTAL, the seconds the whole script may take (default 470; the study
# gets what the steps before it leave, less T_REPORT and the packing); T_SPEED, T_STUDY,
# T_REPORT, step limits in seconds; TRAINER=keras, the per-run Keras trainer instead of the
# fused one; SKIP_SPEED=1; DRY_KEEP_TF=1, --dry with TensorFlow left importable (by default it
# is blocked, as the GPU machine has none).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
DRY=0
case "${1:-}" in
  "") ;;
  --dry) DRY=1 ;;
  *) echo "error: unexpected argument '$1': expected nothing or --dry" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 JAX_DEFAULT_MATMUL_PRECISION=highest
export TF_CPP_MIN_LOG_LEVEL=2
EXPERIMENTS=mnist_init_lr_grid,mnist_label_noise,mnist_best,fashion_mnist_init_lr_grid,fashion_mnist_label_noise,fashion_mnist_best
# make_groups packs one seed's runs of a grid together (36 here) and lone runs across
# seeds; 180 lets a whole grid be one group wherever the packing allows it.
GROUP_SIZE=180
STUDY_FLAGS=(--experiment=$EXPERIMENTS --data_dir=.gpu-data --workdir="$OUT/study"
             --backend=jax --trainer="${TRAINER:-fused}" --group_size=$GROUP_SIZE
             --keras_models=false --progress=log)
if [ $DRY = 1 ]; then
  SPEED_FLAGS=(--dry)
  STUDY_FLAGS+=(--train_size=500 --epochs=1 --seeds=1 --lr_decay=0.9 --initializer=truncated_normal)
  TOTAL=${TOTAL:-3600} T_SPEED=${T_SPEED:-900} T_REPORT=${T_REPORT:-600}
else
  SPEED_FLAGS=(--naive_runs=2)
  TOTAL=${TOTAL:-470} T_SPEED=${T_SPEED:-110} T_REPORT=${T_REPORT:-45}
fi
PACK_SECONDS=15  # kept for packing at the end
site=$(mktemp -d)
# Each fused group compiles its own jitted epoch; groups of one shape (a grid's 5 seeds) then
# reuse the first one's executable from JAX's persistent cache: on this CPU a second group's
# first epoch took 5.0 s instead of 9.5 s (benchmarks/gpu/jax_compilation_cache_cpu.txt).
export JAX_COMPILATION_CACHE_DIR="$site/jax-cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
export JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
START=$SECONDS

step() {  # step NAME LIMIT COMMAND...: runs COMMAND under timeout, says how long it took
  local name=$1 limit=$2 began=$SECONDS rc
  shift 2
  echo "=== $name (limit ${limit} s): $*"
  timeout "$limit" "$@"
  rc=$?
  echo "=== $name: exit status $rc$([ $rc = 124 ] && echo ' (TIMED OUT)') after" \
       "$((SECONDS - began)) s; $((SECONDS - START)) s since the start"
  return $rc
}

block_tensorflow() {  # --dry here, where TensorFlow is installed: make it unimportable, as there
  cat > "$site/sitecustomize.py" <<'PYEOF'
import sys


class _NoTensorFlow:
    """The GPU machine has no TensorFlow: make this CPU's copy unimportable too."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by run.sh --dry)")
        return None


sys.meta_path.insert(0, _NoTensorFlow())
PYEOF
}

setup() {
  if ! "$PY" -c "import keras" 2>/dev/null; then
    step install 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --target "$site" .whl/*.whl || return 1
  fi
  if [ $DRY = 1 ] && [ -z "${DRY_KEEP_TF:-}" ]; then block_tensorflow; fi
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  nvidia-smi -L 2>/dev/null || echo "no nvidia-smi: no NVIDIA GPU here"
  step versions 60 "$PY" -c "import sys, jax, keras
print('python', sys.version.split()[0], '| jax', jax.__version__, jax.devices(), '| keras', keras.__version__)
try:
    import tensorflow
    print('tensorflow importable: the GPU machine has none, so the check would not be faithful')
except ImportError as error:
    print('tensorflow not importable, as on the GPU machine:', error)"
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

main() {
  echo "GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname), $(nproc) cores$([ $DRY = 1 ] && echo ', DRY RUN')"
  setup || { echo "error: setup failed"; return 1; }
  local speed=0
  if [ -z "${SKIP_SPEED:-}" ]; then
    step speed "$T_SPEED" "$PY" -m lenet_bench.bench.benchmark_jax --data_dir=.gpu-data \
      --out="$OUT/speed" "${SPEED_FLAGS[@]}"
    speed=$?
  fi
  # The study gets what is left of TOTAL after the steps before it, less the report and packing.
  local study_limit=${T_STUDY:-$((TOTAL - (SECONDS - START) - T_REPORT - PACK_SECONDS))}
  [ "$study_limit" -ge 60 ] || study_limit=60
  step study "$study_limit" "$PY" -m lenet_bench "${STUDY_FLAGS[@]}"
  local study=$?
  if [ $study != 0 ] && [ -d "$OUT/study" ]; then
    step report "$T_REPORT" "$PY" -m lenet_bench "${STUDY_FLAGS[@]}" --report_only
  fi
  echo "=== summary of the study's runs"
  summarize
  echo "=== speed exit $speed, study exit $study; $((SECONDS - START)) s in all"
  [ $speed = 0 ] && [ $study = 0 ]
}

pack() {  # one tarball of $OUT's results (at most 15 MiB), then only it and the log stay
  local tarball="$OUT/gpu-check.tar.gz" skip=(--exclude='*.keras' --exclude='*.weights.h5'
        --exclude='*.ckpt.npz')
  tar czf "$tarball" -C "$OUT" "${skip[@]}" $(cd "$OUT" && ls -d study speed.txt speed.json 2>/dev/null)
  if [ "$(stat -c %s "$tarball")" -gt $((15 * 1048576)) ]; then
    echo "the tarball is over 15 MiB: packed again without predictions and TensorBoard logs"
    tar czf "$tarball" -C "$OUT" "${skip[@]}" --exclude='*.predictions.npz' --exclude=tb \
      $(cd "$OUT" && ls -d study speed.txt speed.json 2>/dev/null)
  fi
  echo "packed: $(du -h "$tarball" | cut -f1) $tarball ($(tar tzf "$tarball" | wc -l) entries;" \
       ".keras models, weights and checkpoints left out)"
  rm -rf "$OUT/study"
}

main 2>&1 | grep --line-buffered -v -E "^(WARNING: All log messages|I0000|E0000|W0000)" \
  | tee "$OUT/gpu-check.log"
status=${PIPESTATUS[0]}
pack 2>&1 | tee -a "$OUT/gpu-check.log"
echo "exit status $status; files in $OUT: $(ls "$OUT" | tr '\n' ' ')" | tee -a "$OUT/gpu-check.log"
exit "$status"

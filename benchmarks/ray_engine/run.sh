#!/usr/bin/env bash
# --engine=local vs --engine=ray on one small grid (see README.md here). Run from anywhere:
#   bash benchmarks/ray_engine/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=benchmarks/ray_engine
WORK=${WORK:-results/ray_engine}
rm -rf "$WORK"
GRID="--experiment=mnist_init_lr_grid --epochs=1 --train_size=1000 --seeds=1 --data_dir=../shared/datasets"
# The Keras path (one task per run): 4 runs of the grid.
KERAS="$GRID --trainer=keras --grid=initializer=glorot_normal --grid=lr_decay=0.9"
run() {  # name, flags...
  local name=$1; shift
  echo "== $name: python -m lenet_bench $* --workdir=$WORK/$name" | tee "$OUT/$name.log"
  local start=$(date +%s.%N)
  .venv/bin/python -m lenet_bench "$@" --workdir="$WORK/$name" >>"$OUT/$name.log" 2>&1
  local end=$(date +%s.%N)
  printf '%s wall_seconds %.1f\n' "$name" "$(echo "$end - $start" | bc)" | tee -a "$OUT/$name.log" "$OUT/wall_times.txt"
}
: > "$OUT/wall_times.txt"
run fused_local $GRID --engine=local
run fused_ray_cpus1 $GRID --engine=ray
run fused_ray_cpus2 $GRID --engine=ray --ray_cpus_per_task=2
run keras_local $KERAS --engine=local
run keras_ray_cpus2 $KERAS --engine=ray --ray_cpus_per_task=2
.venv/bin/python "$OUT/compare.py" "$WORK" | tee "$OUT/compare.txt"
for name in fused_local fused_ray_cpus1 fused_ray_cpus2 keras_local keras_ray_cpus2; do
  mkdir -p "$OUT/$name"
  (cd "$WORK/$name/mnist_init_lr_grid" && cp -r config.json summary.csv summary.md runs "$OLDPWD/$OUT/$name/")
done

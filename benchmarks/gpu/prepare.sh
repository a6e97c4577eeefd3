#!/usr/bin/env bash
# Fills the two git-ignored folders that travel to the GPU machine with the checkout
# (named in the device tool's `carry`): .whl/ (keras 3.15.1, namex, optree wheels for
# Python 3.12 manylinux x86_64, which that machine lacks) and .gpu-data/ (a copy of
# ../shared/datasets/mnist and fashion-mnist). Run from the repository root, here:
#   bash benchmarks/gpu/prepare.sh
# Falls back to copying ../shared/gpu-probe/wheels when pip cannot download.
# Prints the travelling size: it must stay under 64 MiB with the checkout.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
SHARED=${SHARED:-../shared}  # from a worktree elsewhere: SHARED=/work/shared
[ -d "$SHARED/datasets/mnist" ] || { echo "error: SHARED=$SHARED has no datasets/mnist: expected the shared folder beside the checkout" >&2; exit 2; }
rm -rf .whl && mkdir -p .whl
if ! "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_28_x86_64 -d .whl keras==3.15.1 namex optree; then
  echo "pip download failed: copying $SHARED/gpu-probe/wheels instead"
  cp "$SHARED"/gpu-probe/wheels/*.whl .whl/
fi
rm -rf .gpu-data && mkdir -p .gpu-data
cp -r "$SHARED"/datasets/mnist "$SHARED"/datasets/fashion-mnist .gpu-data/
chmod -R u+w .gpu-data
ls -l .whl
mib() { awk '{ printf "%.1f MiB", $1 / 1048576 }'; }
bytes() { du -cb --apparent-size --files0-from=- | tail -1 | cut -f1; }
checkout=$(git ls-files -z -co --exclude-standard | bytes)
carried=$(find .whl .gpu-data -type f -print0 | bytes)
echo "checkout (tracked + untracked, not ignored): $(echo "$checkout" | mib)"
echo "carried (.whl .gpu-data): $(echo "$carried" | mib)"
echo "travelling in all: $(echo $((checkout + carried)) | mib) (limit 64 MiB)"
if [ $((checkout + carried)) -gt $((64 * 1048576)) ]; then
  echo "error: over the 64 MiB a device call carries" >&2; exit 1
fi

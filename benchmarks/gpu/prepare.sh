#!/usr/bin/env bash
# For a GPU machine without network: on a machine with network, fills a folder with the wheels
# that run.sh's offline mode installs (WHEELS=DIR) and, if asked, copies the datasets beside
# them. From anywhere:
#   bash benchmarks/gpu/prepare.sh
# then copy the checkout with .whl/ (and .gpu-data/) to the GPU machine and run there
#   WHEELS=.whl DATA_DIR=.gpu-data bash benchmarks/gpu/run.sh
# Environment (all optional):
#   WHEELS       the folder to fill (default .whl, ignored by git)
#   PACKAGES     what to download (default: -r requirements.txt -r requirements-jax.txt
#                -r requirements-gpu-jax.txt; e.g. PACKAGES="keras==3.15.1 namex optree" where
#                the GPU machine has JAX with CUDA but no Keras)
#   PLATFORM, PYTHON_VERSION   the GPU machine's, when they differ from this one's (e.g.
#                PLATFORM=manylinux_2_28_x86_64 PYTHON_VERSION=3.12): wheels only
#   NO_DEPS=1    download exactly PACKAGES, not their dependencies
#   DATA_FROM    a datasets root to copy from
#   DATASETS     which of its folders (default "mnist fashion-mnist cifar10")
#   DATA_TO      where to copy them (default .gpu-data, ignored by git)
#   LIMIT_MIB    fail when the checkout, the wheels and the data together pass this size
# A step that fails stops the script with one line naming it.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
WHEELS=${WHEELS:-.whl}
DATA_TO=${DATA_TO:-.gpu-data}
read -r -a packages <<< "${PACKAGES:--r requirements.txt -r requirements-jax.txt -r requirements-gpu-jax.txt}"

fail() { echo "error: $*" >&2; exit 1; }

target=()
if [ -n "${PLATFORM:-}" ]; then target+=(--only-binary=:all: --platform "$PLATFORM"); fi
if [ -n "${PYTHON_VERSION:-}" ]; then
  target+=(--only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp)
fi
if [ -n "${NO_DEPS:-}" ]; then target+=(--no-deps); fi
mkdir -p "$WHEELS"
echo "=== wheels: pip download -d $WHEELS ${target[*]} ${packages[*]}"
"$PY" -m pip download -q -d "$WHEELS" "${target[@]}" "${packages[@]}" \
  || fail "step 'wheels' failed: pip download of ${packages[*]} into $WHEELS"
echo "$(ls "$WHEELS" | wc -l) files in $WHEELS, $(du -sh "$WHEELS" | cut -f1)"

if [ -n "${DATA_FROM:-}" ]; then
  [ -d "$DATA_FROM" ] || fail "DATA_FROM=$DATA_FROM is not a folder: expected a datasets root"
  mkdir -p "$DATA_TO"
  for name in ${DATASETS:-mnist fashion-mnist cifar10}; do
    if [ -d "$DATA_FROM/$name" ]; then
      cp -r "$DATA_FROM/$name" "$DATA_TO/" || fail "step 'data' failed: copying $DATA_FROM/$name"
    fi
  done
  chmod -R u+w "$DATA_TO"
  echo "data: $(ls "$DATA_TO" | tr '\n' ' ')in $DATA_TO, $(du -sh "$DATA_TO" | cut -f1)"
fi

if [ -n "${LIMIT_MIB:-}" ]; then
  bytes() { du -cb --apparent-size --files0-from=- | tail -1 | cut -f1; }
  checkout=$(git ls-files -z -co --exclude-standard | bytes)
  extra=$(find "$WHEELS" ${DATA_FROM:+"$DATA_TO"} -type f -print0 | bytes)
  total=$(( (checkout + extra) / 1048576 ))
  echo "checkout $((checkout / 1048576)) MiB + wheels and data $((extra / 1048576)) MiB" \
       "= $total MiB (LIMIT_MIB $LIMIT_MIB)"
  [ "$total" -le "$LIMIT_MIB" ] || fail "$total MiB is over LIMIT_MIB=$LIMIT_MIB"
fi

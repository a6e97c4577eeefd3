#!/bin/bash
# Rechecks mutants of an earlier mutmut run against the current source and tests.
#
#   bash benchmarks/mutation/recheck.sh MUTMUT_DIR IDS_FILE OUT_FILE TESTS...
#
# MUTMUT_DIR: a checkout (e.g. a git worktree at the run's commit) holding the run's
# .mutmut-cache; IDS_FILE: mutant ids, one a line; TESTS: pytest arguments (the Makefile's
# MUTATION_TESTS_<module>). Each mutant's diff (`mutmut show`) is written into a copy of
# this checkout's lenet_bench/ and tests/, the tests run, the diff reverted; OUT_FILE gets
# "ID killed|survived|timeout|unapplied" (unapplied: the mutated lines have changed since).
# Never run it while mutmut runs in MUTMUT_DIR (`mutmut show` rewrites its cache).
set -u
wt=$1; ids=$2; out=$3; shift 3
repo=$(git rev-parse --show-toplevel)
python=${PYTHON:-$repo/.venv/bin/python}
tree=$(mktemp -d)
cp -r "$repo/lenet_bench" "$repo/tests" "$repo/experiments" "$repo/pyproject.toml" "$tree/"
for id in $(cat "$ids"); do
  (cd "$wt" && "$python" -m mutmut show "$id" 2>/dev/null) > "$tree/$id.diff"
  if ! patch -s -p0 -d "$tree" --fuzz=2 --no-backup-if-mismatch -r - < "$tree/$id.diff" > /dev/null 2>&1; then
    echo "$id unapplied" >> "$out"; continue; fi
  (cd "$tree" && PYTHONDONTWRITEBYTECODE=1 timeout 120 "$python" -m pytest -x -q -p no:xdist \
    -p no:cacheprovider "$@" > /dev/null 2>&1)
  rc=$?
  patch -s -R -p0 -d "$tree" --no-backup-if-mismatch -r - < "$tree/$id.diff" > /dev/null
  case $rc in 0) echo "$id survived";; 124) echo "$id timeout";; *) echo "$id killed";; esac >> "$out"
done
rm -rf "$tree"

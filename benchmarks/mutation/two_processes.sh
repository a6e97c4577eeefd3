#!/bin/bash
# One module's mutants in two processes: odd and even mutant ids, each in its own git
# worktree (at HEAD) with its own copy of mutmut's cache, one `mutmut run ID` per mutant.
# mutmut 2 runs one mutant at a time; this halves a long module's wall time on 2 cores.
#
#   bash benchmarks/mutation/two_processes.sh MODULE_PATH OUT_DIR TESTS...
#
# TESTS: the module's MUTATION_TESTS_<module> from the Makefile, e.g.
#   bash benchmarks/mutation/two_processes.sh lenet_bench/records/race_rule.py \
#     results/mutation/race_rule tests/test_racing.py
# OUT_DIR gets shard0/ and shard1/ (the worktrees, each with .mutmut-cache and one log per
# mutant) and statuses.txt ("id|status|line number|the line", every mutant); remove the
# shards afterwards with `git worktree remove --force OUT_DIR/shard0` (and shard1). Never call
# `mutmut show` in a shard while its loop runs (it rewrites the cache; the run crashes).
set -u
module=$1; out=$2; shift 2
repo=$(git rev-parse --show-toplevel)
python=${PYTHON:-$repo/.venv/bin/python}
# mutmut's own timeout does not fire in `mutmut run ID`: a mutant that loops forever is
# stopped by `timeout` and counts as killed, as mutmut counts its timeouts as caught.
runner="sh -c 'PYTHONDONTWRITEBYTECODE=1 timeout ${MUTANT_TIMEOUT:-300} $python -m pytest -x -q \
  -p no:xdist -p no:cacheprovider $* || exit 1'"
mkdir -p "$out"
for shard in 0 1; do
  git -C "$repo" worktree add -f --detach "$out/shard$shard" HEAD > /dev/null
done
status() { sqlite3 -readonly "$1/.mutmut-cache" "select status from Mutant where id=$2"; }
mutmut_run() {  # DIR ARGS...: one mutmut run in DIR at low priority
  local dir=$1; shift
  (cd "$dir" && eval nice -n 15 "$python" -m mutmut run "$@" --paths-to-mutate "$module" \
     --tests-dir tests --runner "\"$runner\"" --simple-output --no-progress)
}
# The cache: mutmut lists the mutants and times the tests, then starts on the first
# mutant; it is stopped there, the module restored and every status reset.
mutmut_run "$out/shard0" > "$out/shard0/init.log" 2>&1 &
until grep -q "2. Checking" "$out/shard0/init.log" 2>/dev/null; do sleep 0.5; done
pkill -f "mutmut run --paths-to-mutate $module"; wait
git -C "$out/shard0" checkout -q -- "$module"
sqlite3 "$out/shard0/.mutmut-cache" "update Mutant set status='untested'"
cp "$out/shard0/.mutmut-cache" "$out/shard1/"
last=$(sqlite3 -readonly "$out/shard0/.mutmut-cache" "select max(id) from Mutant")
for shard in 0 1; do
  (for ((id = 2 - shard; id <= last; id += 2)); do
     for try in 1 2; do  # a run that crashes leaves its mutant untested: one more try
       [ "$(status "$out/shard$shard" $id)" = untested ] || break
       mutmut_run "$out/shard$shard" $id >> "$out/shard$shard/$id.log" 2>&1
       git -C "$out/shard$shard" checkout -q -- "$module"
     done
   done) &
done
wait
for shard in 0 1; do
  sqlite3 -readonly "$out/shard$shard/.mutmut-cache" "select m.id, m.status, l.line_number + 1,
    trim(l.line) from Mutant m join Line l on m.line = l.id where m.id % 2 = $shard"
done | sort -t'|' -k1 -n > "$out/statuses.txt"
cut -d'|' -f2 "$out/statuses.txt" | sort | uniq -c

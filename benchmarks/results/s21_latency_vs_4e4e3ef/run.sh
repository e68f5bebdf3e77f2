#!/usr/bin/env bash
# alternate: 4e4e3ef's own suggest_latency.py on its own tree, and this tree's on this tree; one pinned core
set -euo pipefail
here=/work/wt/third21; old=/tmp/tinybo_old_4e4e3ef; out=$1; cpu=${2:-1}; rounds=${3:-3}
[ -d "$old" ] || git -C /work/main worktree add --detach "$old" 4e4e3ef >/dev/null
mkdir -p "$out"
for r in $(seq "$rounds"); do
  (cd /tmp && DEV=CPU PARALLEL=0 PYTHONPATH="$old" taskset -c "$cpu" /work/venvs/peers/bin/python "$old/benchmarks/suggest_latency.py" --no-peer --ns 50,100,200,1000 --out "$out/old-$r.json" >/dev/null)
  (cd /tmp && DEV=CPU PARALLEL=0 PYTHONPATH="$here" taskset -c "$cpu" /work/venvs/peers/bin/python "$here/benchmarks/suggest_latency.py" --ns 50,100,200,1000 --out "$out/new-$r.json" >/dev/null)
  echo "round $r done"
done

#!/usr/bin/env bash
# Suggestion latency of an older commit against this tree, alternately (old, new, old, new, ...) on one pinned core, with
# the same protocol for both: this tree's benchmarks/suggest_latency.py, run against each tree's tinybo in turn.
# Run it in a quiet window: on a busy machine the noise exceeds the differences it is meant to show.
#
#   benchmarks/compare_latency.sh [OLD_COMMIT=bdab0aa] [ROUNDS=3] [NS=50,100,200,1000] [CPU=0]
# (the old tree must have benchmarks.peers.tinybo_strategy, which this suggest_latency.py imports from it: bdab0aa or later)
#   PYTHON=/path/to/python benchmarks/compare_latency.sh ...      (default: python3)
#   PEER=1 PYTHON=/work/venvs/peers/bin/python benchmarks/compare_latency.sh ...   (the new side's runs also time Optuna's
#   GPSampler, so all three stand in one run: that interpreter needs optuna, torch and greenlet besides tinybo's needs)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
old=${1:-bdab0aa}; rounds=${2:-3}; ns=${3:-50,100,200,1000}; cpu=${4:-0}
py=${PYTHON:-python3}
tree=/tmp/tinybo_old_$old
[ -d "$tree" ] || git -C "$here" worktree add --detach "$tree" "$old" >/dev/null
out=$(mktemp -d /tmp/latency_compare.XXXX)
for r in $(seq "$rounds"); do
  for side in old new; do
    root=$([ "$side" = old ] && echo "$tree" || echo "$here")
    echo "round $r: $side ($root)" >&2
    # the script's folder is first on sys.path, then PYTHONPATH: tinybo and benchmarks.functions come from $root
    peer=--no-peer; [ "$side" = new ] && [ "${PEER:-0}" = 1 ] && peer=
    (cd /tmp && DEV=CPU PARALLEL=0 PYTHONPATH="$root" taskset -c "$cpu" "$py" "$here/benchmarks/suggest_latency.py" $peer --ns "$ns" \
      --out "$out/$side-$r.json" >/dev/null)
  done
done
"$py" - "$out" <<'PY'
import json, statistics, sys
from pathlib import Path
runs = {side: [json.loads(p.read_text()) for p in sorted(Path(sys.argv[1]).glob(f"{side}-*.json"))] for side in ("old", "new")}
ns = [r["n"] for r in runs["new"][0]["rows"]]
print(f"median over {len(runs['new'])} alternating rounds of the per-run medians (ms); ratio new/old")
peer = lambda i: [r["rows"][i].get("optuna_gp") for r in runs["new"] if r["rows"][i].get("optuna_gp")]
print("| n | old total | new total | ratio | old fit + acq | new fit + acq | old CPU | new CPU | CPU ratio | Optuna GPSampler | GPSampler / new |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for i, n in enumerate(ns):
  m = {s: {k: statistics.median(r["rows"][i]["tinybo"][k] for r in runs[s]) for k in ("ms", "fit_ms", "acq_ms", "cpu_ms")} for s in runs}
  print(f"| {n} | {m['old']['ms']:.1f} | {m['new']['ms']:.1f} | {m['new']['ms'] / m['old']['ms']:.3f} | "
        f"{m['old']['fit_ms']:.1f} + {m['old']['acq_ms']:.1f} | {m['new']['fit_ms']:.1f} + {m['new']['acq_ms']:.1f} | "
        f"{m['old']['cpu_ms']:.1f} | {m['new']['cpu_ms']:.1f} | {m['new']['cpu_ms'] / m['old']['cpu_ms']:.3f} | "
        + (f"{statistics.median(o['ms'] for o in peer(i)):.1f} | {statistics.median(o['ms'] for o in peer(i)) / m['new']['ms']:.2f} |" if peer(i) else "n/a | |"))
print(f"per-run JSON: {sys.argv[1]}")
PY

"""Session 40's driver: `make demo`'s run (examples/tune_mlp.py --compare) in a fresh process with new empty caches; the
seconds between trials (a trial's end to the next one's creation: the suggestion) summed per study, and the wall time.
Run from a checkout: DEV=CPU OMP_NUM_THREADS=1 taskset -c 0 python demo_cold.py OUT.json"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from tinybo.storage import SQLiteStorage

with tempfile.TemporaryDirectory(prefix="tinybo-demo-cold-") as tmp:
  env = dict(os.environ, TINYBO_CACHE_DIR=os.path.join(tmp, "jit"), CACHEDB=os.path.join(tmp, "cache.db"))
  t = time.perf_counter()
  r = subprocess.run([sys.executable, "examples/tune_mlp.py", "--compare", "--out", os.path.join(tmp, "out")], env=env,
                     capture_output=True, text=True, check=True)
  wall = time.perf_counter() - t
  res = {"wall_s": wall, "stdout_tail": r.stdout[-1500:], "studies": {}}
  for db in sorted(glob.glob(os.path.join(tmp, "out", "*.db"))):
    trials = sorted(SQLiteStorage(db).trials("digits-mlp"), key=lambda tr: tr.id)
    gaps = [trials[k].created - trials[k - 1].finished for k in range(1, len(trials))]
    res["studies"][os.path.basename(db)] = {"trials": len(trials), "gaps_s": gaps, "sum_gaps_s": sum(gaps), "max_gap_s": max(gaps)}
brief = {k: {kk: vv for kk, vv in v.items() if kk != "gaps_s"} for k, v in res["studies"].items()}
print(json.dumps({"wall_s": res["wall_s"], "studies": brief}, indent=1))
print(res["stdout_tail"])
with open(sys.argv[1], "w") as f: json.dump(res, f, indent=1)

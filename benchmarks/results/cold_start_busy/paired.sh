#!/bin/bash
# paired CPU-time comparison, old vs new code, empty and warm caches; one core, alternating
out=/tmp/c14/paired.log; : > $out
run() { # label pythonpath cachedir
  mkdir -p $3/tg
  r=$(DEV=CPU PARALLEL=0 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 TINYBO_CACHE_DIR=$3/tinybo CACHEDB=$3/tg/cache.db PYTHONPATH=$2 taskset -c 1 /work/main/.venv/bin/python /tmp/c14/child_cpu.py 2>/dev/null | tail -1)
  echo "$1 $r" >> $out
}
for k in 1 2 3; do
  run "old-empty-$k" /tmp/cache14_before /tmp/c14/pe/old$k
  run "new-empty-$k" /tmp/cache14_after /tmp/c14/pe/new$k
  run "old-warm-$k" /tmp/cache14_before /tmp/c14/pe/old$k
  run "new-warm-$k" /tmp/cache14_after /tmp/c14/pe/new$k
done
echo done >> $out

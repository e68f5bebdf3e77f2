#!/bin/bash
# Suggestion times on 10-25 parameters: 7e86638 (before session 23's speed-ups) and this tree, alternately, one pinned
# core, the same problems and seeds, with Optuna's GPSampler (greenlet installed) in the same session.
# usage: run.sh OUT_DIR OLD_TREE NEW_TREE PEERS_PYTHON CORE ROUNDS
set -e
OUT=$1; OLD=$2; NEW=$3; PEER=$4; CORE=${5:-0}; ROUNDS=${6:-1}
export DEV=CPU OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PARALLEL=0
P=ackley10,ackley20,hartmann6_25d
for r in $(seq 1 $ROUNDS); do
  (cd $OLD && PYTHONPATH=$OLD taskset -c $CORE /work/main/.venv/bin/python -m benchmarks.run --problems $P --strategies gp --seeds 2 \
      --tag old_r$r -o $OUT --no-plot)
  (cd $NEW && PYTHONPATH=$NEW taskset -c $CORE /work/main/.venv/bin/python -m benchmarks.run --problems $P --strategies gp --seeds 2 \
      --tag new_r$r -o $OUT --no-plot)
done
(cd $NEW && PYTHONPATH=$NEW taskset -c $CORE $PEER -m benchmarks.run --problems $P --strategies optuna-gp --seeds 2 --tag optuna -o $OUT --no-plot)

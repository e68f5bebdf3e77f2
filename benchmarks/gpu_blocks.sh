#!/bin/bash
# The parallel form's block size (linalg.BLOCK) on a CUDA GPU, one call of the device tool: the device check at the
# default block, where one fit step spends its time at blocks of 256 / 128 / 64, the fit's latency at the default and at
# 128 (float64) and float32's at the default, a Hartmann6 suggestion's. Eight files to $OUT (the device tool's limit).
#   run from the repository root: OUT=/tmp/gpu bash benchmarks/gpu_blocks.sh
set -u
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD DEV=CUDA PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
nvidia-smi -L
step() { local t=$1; shift; echo "== $* (at most ${t}s)"; local s=$SECONDS; timeout "$t" "$@" > /tmp/step.log 2>&1; local rc=$?; tail -c 1500 /tmp/step.log; echo "== rc $rc in $((SECONDS - s))s"; }
TINYBO_CACHE_DIR=/tmp/jit_default step 150 python3 -m benchmarks.device_check --device CUDA --out "$OUT/cuda_check.json"
for B in 256 128 64; do
  TINYBO_CACHE_DIR=/tmp/jit_$B step 100 python3 -m benchmarks.with_block $B benchmarks.gpu_kernel_times --device CUDA --ns 256,1000,2000 --out "$OUT/kernel_times_b$B.txt"
  grep "^== n=.*: ms" "$OUT/kernel_times_b$B.txt"
done
TINYBO_CACHE_DIR=/tmp/jit_default step 90 python3 -m benchmarks.gp_latency --device CUDA --dtype float64 --ns 100,500,1000 --no-numpy --no-cold-start --repeats 3 --out "$OUT/gp_latency_f64.json"
TINYBO_CACHE_DIR=/tmp/jit_128 step 90 python3 -m benchmarks.with_block 128 benchmarks.gp_latency --device CUDA --dtype float64 --ns 100,500,1000 --no-numpy --no-cold-start --repeats 3 --out "$OUT/gp_latency_f64_b128.json"
TINYBO_CACHE_DIR=/tmp/jit_default step 90 python3 -m benchmarks.gp_latency --device CUDA --dtype float32 --ns 100,500,1000 --no-numpy --no-cold-start --repeats 3 --out "$OUT/gp_latency_f32.json"
TINYBO_CACHE_DIR=/tmp/jit_default step 100 python3 -m benchmarks.suggest_latency --device CUDA --ns 50,100,200,1000 --no-peer --reps 5 --warmup 2 --out "$OUT/suggest_latency.json"
ls -la "$OUT"

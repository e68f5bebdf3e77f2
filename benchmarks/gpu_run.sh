#!/bin/bash
# tinybo on a CUDA GPU, one call of the device tool (no network there: tinygrad travels as a wheel in .whl, see
# benchmarks/README.md "A GPU"): the device check, then the GP's and the strategy's latency on that device, and where one fit step spends its time. Writes to $OUT.
#   run from the repository root: OUT=/tmp/gpu bash benchmarks/gpu_run.sh
set -u
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD DEV=CUDA PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
nvidia-smi -L; python3 -c "import numpy, tinygrad, sys; print('python', sys.version.split()[0], 'numpy', numpy.__version__)"; command -v clang || echo "no clang"
python3 -c "from tinygrad import Device, Tensor; d = Device['CUDA']; print('renderer', type(d.renderer).__name__, d.arch, (Tensor([1., 2.], device='CUDA') * 2).numpy())" || exit 1
step() { local t=$1; shift; echo "== $* (at most ${t}s)"; local s=$SECONDS; timeout "$t" "$@"; echo "== rc $? in $((SECONDS - s))s"; }
step 150 python3 -m benchmarks.device_check --device CUDA --out "$OUT/cuda_check.json"
step 110 python3 -m benchmarks.suggest_latency --device CUDA --ns 50,100,200,1000 --no-peer --reps 5 --warmup 2 --out "$OUT/suggest_latency_cuda.json"
step 200 python3 -m benchmarks.gp_latency --device CUDA --dtype float64 --ns 100,500,1000,2000 --no-numpy --repeats 3 --out "$OUT/gp_latency_cuda_f64.json"
step 90 python3 -m benchmarks.gp_latency --device CUDA --dtype float32 --ns 100,500,1000 --no-numpy --no-cold-start --repeats 3 --out "$OUT/gp_latency_cuda_f32.json"
step 120 python3 -m benchmarks.gpu_kernel_times --device CUDA --ns 256,1000,2000 --out "$OUT/kernel_times_cuda.txt"
# the same machine's CPU backend as the reference of the same run, where it has clang (tinygrad's CPU compiler)
if command -v clang >/dev/null; then DEV=CPU step 80 taskset -c 1 python3 -m benchmarks.suggest_latency --ns 50,100,200,1000 --no-peer --reps 5 --warmup 2 --out "$OUT/suggest_latency_cpu.json"; fi
ls -la "$OUT"

"""Run a benchmark module with the parallel form's block size (`linalg.BLOCK`) set, to compare block sizes on a device.

  TINYBO_CACHE_DIR=/tmp/jit128 python -m benchmarks.with_block 128 benchmarks.gpu_kernel_times --device CUDA --ns 1000

A captured program's disk-cache key does not hold BLOCK: give each block size its own TINYBO_CACHE_DIR.
"""
from __future__ import annotations

import runpy
import sys

import tinybo.linalg


def main() -> None:
  if len(sys.argv) < 3: raise SystemExit("usage: python -m benchmarks.with_block BLOCK MODULE [ARGS...]")
  tinybo.linalg.BLOCK = int(sys.argv[1])
  module, sys.argv = sys.argv[2], [sys.argv[2]] + sys.argv[3:]
  runpy.run_module(module, run_name="__main__", alter_sys=True)

if __name__ == "__main__": main()

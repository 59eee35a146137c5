#!/usr/bin/env python3
"""Forward pass alone (T plain steps, no graph) of the PyTorch reference's workloads.

The reference (shared/anchors/torch_ref/bench.py) times full gradient computations only; this
imports its workload classes unchanged (with its malloc and thread settings, which apply at
import) and times T steps under no_grad, the counterpart of our NaiveSolver forward row.
Prints one JSON line.

  /usr/bin/python3 bench/torch_forward.py --ref ../shared/anchors/torch_ref/bench.py \
      --workload hopfield --runs 5 [--warmup 1] [--random-data] [--fmnist-dir DIR] [--cora-dir DIR] [--threads 2]
"""
import argparse
import importlib.util
import json
import os
import sys
import time


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--ref', required=True)
  ap.add_argument('--workload', required=True, choices=['hopfield', 'gnn', 'hypergrad'])
  ap.add_argument('--runs', type=int, default=5)
  ap.add_argument('--threads', type=int, default=2)
  ap.add_argument('--warmup', type=int, default=1, help='untimed passes before the timed runs')
  ap.add_argument('--random-data', action='store_true')
  ap.add_argument('--cora-dir', default=None)
  ap.add_argument('--fmnist-dir', default=None)
  a = ap.parse_args()

  spec = importlib.util.spec_from_file_location('torch_ref_bench', a.ref)
  ref = importlib.util.module_from_spec(spec)
  sys.modules['torch_ref_bench'] = ref
  spec.loader.exec_module(ref)  # sets OMP/OpenBLAS env and mallopt before importing torch
  torch = ref.torch
  ref.set_threads(a.threads)
  torch.manual_seed(ref.SEED)

  args = argparse.Namespace(
      threads=a.threads, mirror=ref.DEFAULT_MIRROR, fmnist_dir=a.fmnist_dir or ref.DEFAULT_FMNIST,
      cache_dir=ref.DEFAULT_CACHE, random_data=a.random_data, binarize_threshold=0.0,
      cora_dir=a.cora_dir or os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(a.ref)), '..', '..', 'data', 'planetoid')),
      rbp_init='rand')
  sys_ = ref.build(args, a.workload)
  T = sys_.T

  def forward():
    with torch.no_grad():
      sys_.prepare()
      h = sys_.h0()
      for t in range(T):
        h = sys_.step(h, t, False)
      return h

  for _ in range(max(1, a.warmup)):
    forward()  # warm-up
  times, cpu = [], []
  load0 = os.getloadavg()[0]
  for _ in range(a.runs):
    t0, c0 = time.perf_counter(), time.process_time()
    forward()
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
  times_s = sorted(times)
  cpu_s = sorted(cpu)
  med = lambda xs: xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
  print(json.dumps({
      'workload': a.workload, 'method': 'forward', 'K': None, 'T': T,
      'time_median_s': med(times_s), 'time_min_s': times_s[0], 'cpu_time_median_s': med(cpu_s),
      'times_s': times, 'cpu_times_s': cpu, 'loadavg_1min': [load0, os.getloadavg()[0]],
      'torch': torch.__version__, 'threads': a.threads}))


if __name__ == '__main__':
  main()

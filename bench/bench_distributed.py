"""Benchmark: one process vs parameter servers vs mirrored workers, on this machine.

Trains `cnn` on full Fashion-MNIST TFRecords for the same number of global steps
(batch 100 per worker), in one run, back to back:
  single:    python -m trainer_module.task, no cluster;
  ps:        trainer_module.cluster, chief + 1 worker (2 training processes) + 1 ps,
             asynchronous updates;
  mirrored:  trainer_module.cluster, chief + 1 worker, --distribute multi_worker_mirrored,
             synchronous all-reduce (each step trains 2 x 100 examples).
Prints examples/s over the training time (the slowest task's first step to last step)
and over the whole wall time (process start-up included), and ratios to `single`.
Usage: python bench/bench_distributed.py [--steps 300] [--data-dir prepare-data output]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

from trainer_module import cluster

BATCH = 100


def cpu_description() -> str:
  """The CPU model and core count, as lscpu reads them from /proc/cpuinfo."""
  model = "unknown CPU"
  with open("/proc/cpuinfo") as f:
    for line in f:
      if line.startswith("model name"):
        model = line.split(":", 1)[1].strip()
        break
  return f"{model}, {os.cpu_count()} cores"


def _task_args(data_dir: str, out: str, steps: int) -> List[str]:
  return ["--data-dir", data_dir, "--train-steps", str(steps), "--eval-steps", "10",
          "--batch-size", str(BATCH), "--export-dir", os.path.join(out, "models")]


def run_single(data_dir: str, out: str, steps: int) -> Tuple[Dict[str, dict], float]:
  started = time.monotonic()
  proc = subprocess.run(cluster.task_command(_task_args(data_dir, out, steps)),
                        capture_output=True, text=True, check=True)
  report = json.loads(proc.stdout)
  return {"local": report}, time.monotonic() - started


def run_cluster(data_dir: str, out: str, steps: int, mirrored: bool) -> Tuple[Dict[str, dict],
                                                                             float]:
  extra = ["--distribute", "multi_worker_mirrored"] if mirrored else []
  started = time.monotonic()
  with open(os.devnull, "w") as quiet:
    stderr, sys.stderr = sys.stderr, quiet  # The launcher streams every task's log.
    try:
      reports = cluster.run_cluster(
          cluster.task_command(_task_args(data_dir, out, steps) + extra), workers=1,
          ps=0 if mirrored else 1, evaluator=False, timeout_s=3600)
    finally:
      sys.stderr = stderr
  return reports, time.monotonic() - started


def main() -> None:
  """Runs the three set-ups and prints their figures side by side."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=300, help="global steps for each set-up")
  parser.add_argument("--data-dir", help="prepare-data output; default: fetch + prepare")
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    data_dir = args.data_dir
    if not data_dir:
      from pipeline.data import datasets, fetch, prepare
      data_dir = os.path.join(tmp, "tfr")
      prepare.prepare_data(fetch.fetch_dataset(datasets.get_dataset("fashion_mnist")), data_dir)
    runs = {"single": run_single(data_dir, os.path.join(tmp, "single"), args.steps),
            "ps": run_cluster(data_dir, os.path.join(tmp, "ps"), args.steps, mirrored=False),
            "mirrored": run_cluster(data_dir, os.path.join(tmp, "mirrored"), args.steps,
                                    mirrored=True)}
  print(f"{cpu_description()}; cnn, {args.steps} global steps, batch {BATCH} per worker")
  base = None
  for name, (reports, wall) in runs.items():
    # Examples trained: each step of each synchronous replica, or each async step.
    examples = BATCH * sum(r["local_steps"] for r in reports.values())
    train_s = max(r["train_seconds"] for r in reports.values())
    rate, wall_rate = examples / train_s, examples / wall
    base = base or (rate, wall_rate)
    print(f"  {name:9s} {examples:7d} examples  train {train_s:6.1f} s {rate:7.0f} ex/s "
          f"({rate / base[0]:4.2f}x)   wall {wall:6.1f} s {wall_rate:7.0f} ex/s "
          f"({wall_rate / base[1]:4.2f}x)")


if __name__ == "__main__":
  main()

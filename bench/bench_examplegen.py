"""Benchmark: peak memory and time of `run`'s ExampleGen on N generated images.

For each size, writes N random 28x28 images (and random labels) as raw IDX, plus a
10,000-image test set, then runs the ExampleGen executor in a fresh child process,
as `run` does (in-process Beam, `pipeline/runners/local.py: LOCAL_BEAM_ARGS`). The
child's peak RSS comes from the kernel (wait4's ru_maxrss), so nothing is sampled
and nothing is missed. Run two sizes or more: memory should stay flat and the time
grow linearly. Usage:

  python bench/bench_examplegen.py --sizes 200000 400000 [--work-dir DIR]

Random pixels on purpose: identical images hash into one bucket, and the ExampleGen
then fails on an empty validation split.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

_CHUNK = 100_000  # Images generated and written at a time.


def write_random_idx(directory: str, n_train: int, n_test: int = 10_000, seed: int = 0) -> None:
  """Writes the four raw IDX files, generating the images in chunks (flat memory)."""
  from pipeline.data import contract
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  for idx_set, n in (("train", n_train), ("test", n_test)):
    with open(os.path.join(directory, contract.idx_file_name(idx_set, "images")), "wb") as f:
      f.write(struct.pack(">IIII", 2051, n, contract.ROWS, contract.COLS))
      for start in range(0, n, _CHUNK):
        f.write(rng.integers(0, 256, (min(_CHUNK, n - start), contract.PIXELS), np.uint8).tobytes())
    with open(os.path.join(directory, contract.idx_file_name(idx_set, "labels")), "wb") as f:
      f.write(struct.pack(">II", 2049, n) + rng.integers(0, 10, n, np.uint8).tobytes())


def _rss_mb() -> float:
  with open("/proc/self/status") as f:
    return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def child(data_dir: str, out_dir: str) -> None:
  """Runs the ExampleGen executor as TFX does; prints JSON with its time and counts."""
  from tfx.proto import example_gen_pb2
  from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
  from tfx.utils import proto_utils
  from components.idx_example_gen import Executor, make_idx_example_gen
  from pipeline.runners.local import LOCAL_BEAM_ARGS
  component = make_idx_example_gen(data_dir)
  examples = standard_artifacts.Examples()
  examples.uri = out_dir
  keys = standard_component_specs
  properties = {keys.INPUT_BASE_KEY: data_dir,
                keys.INPUT_CONFIG_KEY: component.exec_properties[keys.INPUT_CONFIG_KEY],
                keys.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Output()),
                keys.OUTPUT_DATA_FORMAT_KEY: component.exec_properties[keys.OUTPUT_DATA_FORMAT_KEY]}
  before = _rss_mb()
  start = time.perf_counter()
  cpu = time.process_time()
  Executor(Executor.Context(beam_pipeline_args=list(LOCAL_BEAM_ARGS))).Do(
      {}, {keys.EXAMPLES_KEY: [examples]}, properties)
  print(json.dumps({"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                    "rss_before_mb": before,
                    "splits": artifact_utils.decode_split_names(examples.split_names)}))


def measure(n: int, work_dir: str) -> dict:
  """Generates `n` images, runs the ExampleGen child on them; returns its numbers."""
  data_dir, out_dir = os.path.join(work_dir, f"idx-{n}"), os.path.join(work_dir, f"examples-{n}")
  write_random_idx(data_dir, n)
  proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", data_dir, out_dir],
                          stdout=subprocess.PIPE, text=True)
  out = proc.stdout.read()
  _, status, usage = os.wait4(proc.pid, 0)
  proc.returncode = os.waitstatus_to_exitcode(status)
  if proc.returncode:
    raise SystemExit(f"the ExampleGen failed on {n} images (exit {proc.returncode})")
  result = json.loads(out.strip().splitlines()[-1])
  result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB.
  return result


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 400_000])
  parser.add_argument("--work-dir", help="where the IDX files and outputs go (default: a temp dir)")
  parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    child(*args.child)
    return
  print(f"cores={os.cpu_count()} load={os.getloadavg()[0]:.1f}")
  print(f"{'images':>10} {'wall s':>8} {'cpu s':>8} {'us/image':>9} {'RSS before':>11} "
        f"{'peak RSS':>9}")
  with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
    for n in args.sizes:
      r = measure(n, tmp)
      print(f"{n:>10,} {r['seconds']:>8.1f} {r['cpu_seconds']:>8.1f} {1e6 * r['seconds'] / n:>9.1f} "
            f"{r['rss_before_mb']:>8.0f} MB {r['peak_rss_mb']:>6.0f} MB", flush=True)
      for name in (f"idx-{n}", f"examples-{n}"):
        shutil.rmtree(os.path.join(tmp, name))


if __name__ == "__main__":
  main()

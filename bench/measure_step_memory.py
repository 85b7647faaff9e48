"""Peak memory of each compiled step on full data: sizes the pods' requests and limits.

Replays the compiled pipeline.yaml task by task (tests/support/kfp_replay.py:
each task's exact command and arguments in its own process, as its pod would run it)
on a dataset's full IDX files, and samples every 0.2 s the resident memory of each
task's process plus all its children (the Beam worker processes), summed. The sum
counts shared library pages once per process, so it overstates a pod's working set
a little: a safe side for a request.
Usage: python bench/measure_step_memory.py --data-dir ~/.cache/mnist-tfx/fashion_mnist
         [--spec pipeline.yaml] [--train-steps 300] [--output step_memory.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import Dict, List, Tuple

import psutil
import yaml

from pipeline.runners.kubeflow import KFP_OUTPUT_ROOT
from tests.support import kfp_replay

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PEAKS: Dict[str, int] = {}


def _tree_rss(proc: psutil.Process) -> int:
  """Resident bytes of a process and its descendants, summed; 0 once it is gone."""
  total = 0
  try:
    for p in [proc] + proc.children(recursive=True):
      try:
        total += p.memory_info().rss
      except psutil.NoSuchProcess:
        pass
  except psutil.NoSuchProcess:
    pass
  return total


def _sampled_run(command: List[str], args: List[str], invocation: str, cwd: str,
                 env: Dict[str, str], timeout_s: float) -> Tuple[int, str]:
  """kfp_replay's step runner, also recording the step's peak tree RSS under its name."""
  argv = command + [invocation if a == "{{$}}" else a for a in args]
  task = json.loads(invocation)["outputs"]["outputFile"].split(os.sep)[-2]
  with tempfile.TemporaryFile("w+") as log:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            text=True)
    watched, peak, done = psutil.Process(proc.pid), 0, threading.Event()

    def sample():
      nonlocal peak
      while not done.is_set():
        peak = max(peak, _tree_rss(watched))
        done.wait(0.2)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode = proc.wait(timeout=timeout_s)
    done.set()
    sampler.join()
    _PEAKS[task] = max(_PEAKS.get(task, 0), peak)
    log.seek(0)
    return returncode, log.read()


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", required=True, help="the four IDX files, full size")
  parser.add_argument("--spec", default=os.path.join(REPO, "pipeline.yaml"))
  parser.add_argument("--train-steps", type=int, default=300)
  parser.add_argument("--output", default="step_memory.json")
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as scratch:
    with open(args.spec) as f:
      spec = yaml.safe_load(f.read().replace(KFP_OUTPUT_ROOT, scratch)
                            .replace("/app/", REPO + "/"))
    values = {"data_dir": os.path.abspath(args.data_dir), "train_steps": args.train_steps,
              "accuracy_threshold": 0.0}
    env = {**os.environ,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    kfp_replay._run = _sampled_run
    results = kfp_replay.replay(spec, values, spec["defaultPipelineRoot"], cwd=REPO, env=env,
                                timeout_s=3600)
  rows = [{"task": r.name, "exit": r.returncode, "seconds": round(r.seconds, 1),
           "peak_rss_mib": round(_PEAKS.get(r.name, 0) / 2**20)} for r in results]
  for row in rows:
    print(f"{row['task']:55s} exit {row['exit']}  {row['seconds']:7.1f} s  "
          f"peak {row['peak_rss_mib']:6d} MiB")
  failed = [r for r in results if r.returncode]
  if failed:
    print(failed[0].log[-3000:], file=sys.stderr)
  with open(args.output, "w") as f:
    json.dump({"train_steps": args.train_steps, "steps": rows}, f, indent=2)
  sys.exit(1 if failed else 0)


if __name__ == "__main__":
  main()

"""Seconds from Ctrl-C or SIGTERM to exit, in each phase of `python -m pipeline run`.

  python bench/bench_signals.py [--burners N]

Prints one row per (phase, signal): seconds to exit and exit status, on a tiny generated
dataset; `--burners N` runs N busy-looping processes beside it, as a loaded machine would.
"""

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.conftest import write_dataset  # noqa: E402
from tests.pipeline.test_signals import NAME, PHASES  # noqa: E402
from tests.support.signals import FAST, start_run, stop_after  # noqa: E402


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--burners", type=int, default=0, help="busy loops beside (default: 0)")
  args = parser.parse_args()
  burners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"])
             for _ in range(args.burners)]
  print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{args.burners} burner(s)")
  print(f"{'phase':14s} {'signal':8s} {'exit s':>7s} status")
  try:
    with tempfile.TemporaryDirectory() as tmp:
      write_dataset(os.path.join(tmp, "idx"), n_train=100, n_eval=40, seed=5)
      for phase, (done, directory, delay, steps) in PHASES.items():
        for signum in (signal.SIGINT, signal.SIGTERM):
          out = os.path.join(tmp, f"out-{phase}-{signum}")
          proc = start_run([*FAST, "--data-dir", os.path.join(tmp, "idx"), "--output-root",
                            out, "--train-steps", str(steps)])
          path = os.path.join(out, "pipelines", NAME, directory) if directory else ""
          stopped = stop_after(proc, done, signum, delay=delay, path=path, wait=300)
          print(f"{phase:14s} {signal.Signals(signum).name:8s} {stopped.seconds:7.1f} "
                f"{stopped.status}", flush=True)
  finally:
    for burner in burners:
      burner.kill()


if __name__ == "__main__":
  main()

"""Peak memory of `predict`'s input reading on hostile inputs, for issue 25.

Writes small files that decode to a lot (a PNG whose header says 20000x20000, an
11000x12000 RGBA PNG of ~0.5 MB, a gzipped IDX file whose header promises a
million images), then reads each with `pipeline.serving.images.load_images` in a
child process of its own and prints the child's peak RSS above what its imports
cost (getrusage ru_maxrss, sampled before and after), the wall time and the outcome.

  .venv/bin/python bench/bench_predict_inputs.py              # this worktree's code
  .venv/bin/python bench/bench_predict_inputs.py --code DIR   # e.g. an old commit:
  git archive 516c047 pipeline trainer_module | tar -x -C /tmp/old && ... --code /tmp/old
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Iterable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.hostile_inputs import write_idx_bomb, write_png  # noqa: E402

_CHILD = r"""
import json, resource, sys, time
from pipeline.serving import images
import PIL.Image, numpy
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.monotonic()
try:
  loaded = images.load_images([sys.argv[1]], int(sys.argv[2]) if sys.argv[2] else None)
  outcome = f"read {len(loaded.names)} image(s)"
except Exception as e:  # The outcome is what is reported, whatever it is.
  outcome = f"{type(e).__name__}: {str(e).splitlines()[0][:150]}"
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": (after - before) / 1024, "seconds": time.monotonic() - start,
                  "outcome": outcome}))
"""


def _cases(scratch: str) -> Iterable[tuple]:
  bomb = os.path.join(scratch, "bomb-20000x20000.png")
  write_png(bomb, 20000, 20000, rgba=False)
  big = os.path.join(scratch, "rgba-11000x12000.png")
  write_png(big, 11000, 12000, rgba=True)
  cap = os.path.join(scratch, "rgba-4096x4096.png")
  write_png(cap, 4096, 4096, rgba=True)
  idx_bomb = os.path.join(scratch, "bomb-images-idx3-ubyte.gz")
  write_idx_bomb(idx_bomb, 1_000_000)
  return [("PNG bomb 20000x20000", bomb, ""), ("RGBA PNG 11000x12000", big, ""),
          ("RGBA PNG 4096x4096", cap, ""), ("IDX gzip bomb, --limit 10", idx_bomb, "10"),
          ("IDX gzip bomb, no --limit", idx_bomb, "")]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--code", default=os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))), help="the checkout whose `pipeline` package is measured (default: this one)")
  args = parser.parse_args()
  env = {**os.environ, "PYTHONPATH": os.path.abspath(args.code)}
  with tempfile.TemporaryDirectory() as scratch:
    for name, path, limit in _cases(scratch):
      # cwd: `python -c` puts it first on sys.path, before --code.
      child = subprocess.run([sys.executable, "-c", _CHILD, path, limit], env=env,
                             cwd=scratch, capture_output=True, text=True, timeout=600,
                             check=True)
      result = json.loads(child.stdout)
      print(f"{name:28} {os.path.getsize(path) / 1e3:8.0f} kB  peak +{result['peak_mb']:7.1f} MB"
            f"  {result['seconds']:6.2f} s  {result['outcome']}")


if __name__ == "__main__":
  main()

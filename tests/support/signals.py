"""Sending a signal to `python -m pipeline run` in a chosen phase, and timing its exit."""

import os
import signal
import subprocess
import sys
import threading
import time
from typing import List, NamedTuple, Optional

# In-process Beam and a tiny model: a run takes tens of seconds, mostly imports.
FAST = ["--dataset", "mnist", "--eval-steps", "2", "--batch-size", "20",
        "--beam-arg=--direct_num_workers=1"]


class Stopped(NamedTuple):
  status: int
  seconds: float  # From the signal to the process's exit.
  stderr: str


def start_run(args: List[str]) -> subprocess.Popen:
  """`python -m pipeline run ARGS` as a terminal's foreground job would be started: a test
  run in the background of a script (`cmd &`) inherits SIGINT ignored, and so would the run."""
  return subprocess.Popen(
      [sys.executable, "-m", "pipeline", "run", *args], stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stop_after(proc: subprocess.Popen, done: Optional[str], signum: int, ready: float = 240,
               wait: float = 120, delay: float = 1.0, path: str = "") -> Stopped:
  """Sends `signum` `delay` s after stderr says "done <done>", or once `path` exists (a
  component's output directory, made as it starts), then waits for the exit.

  Raises AssertionError when the phase is never reached or the process outlives `wait`.
  """
  reached, lines = threading.Event(), []

  def watch_stderr():  # Without a terminal, progress is "done <component>" lines there.
    for line in proc.stderr:
      lines.append(line)
      if done is not None and f"done {done} " in line:
        reached.set()
  threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
  drain = threading.Thread(target=watch_stderr, daemon=True)
  drain.start()  # A full pipe would block the process.
  try:
    deadline = time.monotonic() + ready
    while not (reached.is_set() or (path and os.path.exists(path))):
      assert time.monotonic() < deadline, f"the run never reached {done or path}"
      assert proc.poll() is None, f"the run ended first (status {proc.returncode})"
      time.sleep(0.05)
    time.sleep(delay)
    assert proc.poll() is None, f"the run ended before the signal (status {proc.returncode})"
    sent = time.monotonic()
    proc.send_signal(signum)
    status = proc.wait(wait)
    seconds = time.monotonic() - sent
  finally:
    proc.kill()
  drain.join(10)
  return Stopped(status, seconds, "".join(lines))

"""`python -m pipeline run` end to end in a subprocess: verbose output, exit statuses,
a fully cached rerun, and Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.cli import run
from tests.conftest import write_dataset

pytestmark = pytest.mark.slow

# In-process Beam and a tiny model: a run takes tens of seconds, mostly imports.
FAST = ["--dataset", "mnist", "--eval-steps", "2", "--batch-size", "20",
        "--beam-arg=--direct_num_workers=1"]


def _run(*args, timeout=240):
  return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                        text=True, timeout=timeout, check=False)


@pytest.fixture
def tiny_idx(tmp_path):
  write_dataset(str(tmp_path / "idx"), n_train=100, n_eval=40, seed=5)
  return str(tmp_path / "idx")


def test_verbose_run_not_blessed_exits_3_and_a_cached_rerun_says_nothing_ran(tiny_idx, tmp_path):
  args = ["run", *FAST, "--data-dir", tiny_idx, "--output-root", str(tmp_path / "out"),
          "--train-steps", "1", "--accuracy-threshold", "0.99"]
  first = _run("-v", *args)  # `-v` before the command: TFX must not re-parse it.
  assert first.returncode == 3, first.stderr[-3000:]
  last = first.stderr.splitlines()[-1]
  assert last.startswith("exit status 3: the model was not blessed, so nothing was pushed. "
                         "Next: "), last
  assert "--train-steps" in last and "--accuracy-threshold" in last  # The next step names both.
  assert "blessed: NO" in first.stdout and "nothing ran" not in first.stdout
  # Verbose means this project's DEBUG and others' INFO, not Beam's per-element dumps.
  assert len(first.stderr) < 2_000_000
  assert " DEBUG " not in first.stderr.replace(" DEBUG pipeline", "")

  again = _run(*args)
  assert again.returncode == 3
  assert "nothing ran: every component was reused from the cache" in again.stdout


def test_sigterm_during_prepare_data_leaves_nothing(tmp_path):
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=150000, n_eval=20, gz=True)  # Seconds of work to stop.
  proc = subprocess.Popen([sys.executable, "-m", "pipeline", "prepare-data", "--data-dir",
                           idx_dir, "--output", str(tmp_path / "tfr")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    deadline = time.monotonic() + 60
    while not any(name.startswith(".tfr-staging-") for name in os.listdir(tmp_path)):
      assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-2000:]
      time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
  finally:
    proc.kill()
  assert proc.returncode == 143, stderr[-2000:]
  assert stderr.splitlines()[-1] == "error: terminated (SIGTERM)."
  assert sorted(os.listdir(tmp_path)) == ["idx"]  # No staging, no half-written output.


def test_an_interrupt_wrapped_by_beam_is_found_by_type_not_by_message():
  wrapped = RuntimeError(" [while running 'Run[Trainer]']")  # Beam's, with an empty message.
  wrapped.__context__ = KeyboardInterrupt()
  assert isinstance(run._interrupt_inside(wrapped), KeyboardInterrupt)
  assert run._interrupt_inside(RuntimeError("KeyboardInterrupt")) is None

"""An operator's bad day, for real: kill -9 mid-run, two runs at once, full disks.

Each case runs `python -m pipeline` in a subprocess on tiny data, bounded by
timeouts, and checks what is left on disk and in ML Metadata afterwards.
"""

import contextlib
import os
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf

from pipeline.reporting.summary import STATE_NAMES, open_store
from components.partial_push import this_host
from tests.conftest import write_dataset

pytestmark = pytest.mark.slow
PIPELINE = "mnist-tfx-mnist"
FAST = ["--dataset", "mnist", "--eval-steps", "2", "--batch-size", "20",
        "--accuracy-threshold", "0.5", "--beam-arg=--direct_num_workers=1"]


@pytest.fixture
def paths(tmp_path):
  idx = str(tmp_path / "idx")
  write_dataset(idx, n_train=200, n_eval=40, seed=8)
  return {"idx": idx, "out": str(tmp_path / "out"),
          "serving": str(tmp_path / "out" / "serving_model" / PIPELINE / "cnn"),
          "db": str(tmp_path / "out" / "metadata" / PIPELINE / "metadata.db")}


def _args(paths, steps):
  return ["run", *FAST, "--data-dir", paths["idx"], "--output-root", paths["out"],
          "--train-steps", str(steps)]


def _run(args, env=None, timeout=300):
  return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                        text=True, timeout=timeout, env=env, check=False)


class _Started:
  """A `python -m pipeline` process whose stdout and stderr lines are watched."""

  def __init__(self, args, env=None):
    self.proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env={**(env or os.environ), "PYTHONUNBUFFERED": "1"})
    self.lines = []
    for stream in (self.proc.stdout, self.proc.stderr):
      threading.Thread(target=lambda s=stream: self.lines.extend(s), daemon=True).start()

  def wait_for(self, text, timeout=180):
    deadline = time.monotonic() + timeout
    while not any(text in line for line in self.lines):
      assert self.proc.poll() is None, "".join(self.lines[-30:])
      assert time.monotonic() < deadline, f"never saw {text!r}"
      time.sleep(0.1)


def _states(db):
  store = open_store(db)
  return [STATE_NAMES[e.last_known_state] for e in store.get_executions()]


def _versions(serving):
  return sorted(n for n in os.listdir(serving)) if os.path.isdir(serving) else []


def test_kill_9_during_the_trainer_then_rerun(paths):
  run = _Started(_args(paths, 600))
  run.wait_for("done AnomalyGate")
  time.sleep(2)  # Inside the Trainer.
  run.proc.kill()
  run.proc.wait(30)
  assert "RUNNING" in _states(paths["db"])  # What a killed run leaves.

  rerun = _run(_args(paths, 40))  # The killed run's Trainer failed: any steps retrain.
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert "a killed run left" in rerun.stderr and "python -m pipeline clean" in rerun.stderr
  assert "RUNNING" not in _states(paths["db"]) and "FAILED" in _states(paths["db"])
  [version] = _versions(paths["serving"])
  assert version.isdigit()

  cleaned = _run(["clean", "--output-root", paths["out"]], timeout=120)  # Every pipeline.
  assert cleaned.returncode == 0, cleaned.stderr[-2000:]
  assert cleaned.stdout.startswith("mnist-tfx-mnist: removed ")
  assert not cleaned.stdout.startswith("mnist-tfx-mnist: removed 0 ")
  assert _versions(paths["serving"]) == [version]  # Pushed models are never cleaned.


@pytest.mark.extended
def test_kill_9_during_the_push_never_shows_a_partial_version(paths):
  env = {**os.environ, "MNIST_TFX_TEST_PUSH_PAUSE_S": "120"}
  run = _Started(_args(paths, 40), env=env)
  run.wait_for("test hook: pausing")
  [partial] = _versions(paths["serving"])
  # TF Serving only loads numeric versions; the copy names its host and process.
  assert partial.startswith(f".partial-{this_host()}-{run.proc.pid}-")
  run.proc.kill()
  run.proc.wait(30)

  rerun = _run(_args(paths, 40))
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  [version] = _versions(paths["serving"])  # The partial copy is gone.
  assert version.isdigit()
  assert "serving_default" in tf.saved_model.load(os.path.join(paths["serving"], version)).signatures
  assert "RUNNING" not in _states(paths["db"])


def test_a_second_run_on_the_same_output_root_refuses_cleanly(paths):
  # The lock is held from start-up to the end; the second is refused before TF loads.
  first = _Started(_args(paths, 40))
  first.wait_for("running mnist-tfx-mnist")
  second = _run(_args(paths, 40), timeout=60)
  assert second.returncode == 1
  [line] = second.stderr.splitlines()
  assert line.startswith(f"error: another run (pid {first.proc.pid}) is using ")
  assert first.proc.wait(300) == 0, "".join(first.lines[-30:])


@contextlib.contextmanager
def _tmpfs(path, size):
  os.makedirs(path, exist_ok=True)
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                           capture_output=True, text=True, check=False)
  if mounted.returncode:
    pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
  try:
    yield path
  finally:
    subprocess.run(["umount", "-l", path], check=False)


def test_full_disk_during_prepare_data_is_one_line_and_leaves_nothing(tmp_path):
  write_dataset(str(tmp_path / "idx"), n_train=6000, n_eval=100)
  with _tmpfs(str(tmp_path / "small"), "2m") as small:
    result = _run(["prepare-data", "--data-dir", str(tmp_path / "idx"), "--output",
                   os.path.join(small, "tfr")], timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {small}: No space left on device (free some space, then rerun)"]
    assert os.listdir(small) == []


def _one_disk_full_line(stderr, under):
  """The run's single error line, checked to name a path under `under` and nothing more."""
  [line] = [line for line in stderr.splitlines() if line.startswith("error: ")]
  assert line.startswith(f"error: {under}/") and line.endswith(
      ": No space left on device (free some space, then rerun the same command: components "
      "that finished are reused from the cache)")
  for noise in ("Traceback", "allocated tensors", "Original stack trace", "--verbose"):
    assert noise not in stderr
  return line


@pytest.mark.extended
def test_full_disk_during_the_push_publishes_nothing(paths):
  with _tmpfs(paths["serving"], "64k"):
    result = _run(_args(paths, 20))
    assert result.returncode == 1
    _one_disk_full_line(result.stderr, paths["serving"])
    assert os.listdir(paths["serving"]) == []  # No partial copy, no version.
  states = _states(paths["db"])
  assert "RUNNING" not in states and "FAILED" in states


def test_full_disk_in_the_trainer_is_one_line_naming_the_path(paths):
  # Room for the graph, not for the first checkpoint: TensorFlow's error for that is
  # a ResourceExhaustedError of 100+ lines ending in a hint about tensor allocations.
  trainer = os.path.join(paths["out"], "pipelines", PIPELINE, "Trainer")
  with _tmpfs(trainer, "4m"):
    result = _run(_args(paths, 20))
    assert result.returncode == 1
    _one_disk_full_line(result.stderr, trainer)
  states = _states(paths["db"])
  assert "RUNNING" not in states and "FAILED" in states

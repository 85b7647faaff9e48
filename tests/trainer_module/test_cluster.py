"""Distributed training on 127.0.0.1: real TF_CONFIG clusters of processes.

Each test bounds its cluster with run_cluster's timeout, which stops every task
(a ps never exits by itself, and a worker waits up to 7200 s for a missing chief).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf

from tests.conftest import saved_model_accuracy
from trainer_module import cluster
from trainer_module.events import read_scalars
from trainer_module.task import checkpoint_step

pytestmark = pytest.mark.slow
TIMEOUT_S = 300


def _task_args(data_dir, tmp_path, steps, *extra):
  # mnist's settings: fashion_mnist's left-right flips would mix the tiny data's classes.
  return ["--data-dir", data_dir, "--dataset", "mnist", "--train-steps", str(steps),
          "--eval-steps", "5", "--batch-size", "20", "--export-dir", str(tmp_path / "models"),
          *extra]


def test_ps_chief_worker_and_evaluator(tiny_tfrecords, tmp_path):
  steps = 150
  reports = cluster.run_cluster(
      cluster.task_command(_task_args(tiny_tfrecords, tmp_path, steps)), workers=1, ps=1,
      evaluator=True, timeout_s=TIMEOUT_S)
  assert set(reports) == {"chief:0", "worker:0", "evaluator:0"}
  global_step = checkpoint_step(str(tmp_path / "models-job"))
  assert global_step >= steps
  chief, worker = reports["chief:0"], reports["worker:0"]
  # Asynchronous updates: each trains its share, and the shares add up to the global step.
  assert chief["local_steps"] > 0 and worker["local_steps"] > 0
  assert steps <= chief["local_steps"] + worker["local_steps"] <= global_step + 2
  assert chief["variables_device"] == worker["variables_device"] == "/job:ps/task:0"
  [version] = os.listdir(tmp_path / "models")  # Only the chief exported.
  assert chief["export_dir"] == str(tmp_path / "models" / version)
  assert "export_dir" not in worker and "export_dir" not in reports["evaluator:0"]
  assert reports["evaluator:0"]["last_loss"] is None  # It trained no step: null, not NaN.
  assert saved_model_accuracy(chief["export_dir"], tiny_tfrecords) > 0.9
  # The evaluator evaluated checkpoints on its own, up to the last one.
  validation = str(tmp_path / "models-job" / "validation")
  evaluated = [step for step, _ in read_scalars(validation, "accuracy")]
  assert len(evaluated) >= 2 and max(evaluated) >= steps


def test_multi_worker_mirrored_keeps_workers_in_step(tiny_tfrecords, tmp_path):
  reports = cluster.run_cluster(
      cluster.task_command(_task_args(tiny_tfrecords, tmp_path, 40,
                                      "--distribute", "multi_worker_mirrored")),
      workers=1, ps=0, evaluator=False, timeout_s=TIMEOUT_S)
  chief, worker = reports["chief:0"], reports["worker:0"]
  assert chief["local_steps"] == worker["local_steps"] == 40  # Synchronous: the same steps,
  assert chief["last_loss"] == worker["last_loss"]  # and the same all-reduced loss.
  assert len(os.listdir(tmp_path / "models")) == 1 and "export_dir" not in worker


@pytest.mark.extended
def test_tfx_run_fn_under_a_legacy_master_cluster(tiny_tfrecords, tmp_path):
  """As Vertex AI and a TFJob run the pipeline's Trainer: every task runs the executor."""
  command = [sys.executable, "-m", "tests.support.tfx_trainer", tiny_tfrecords,
             str(tmp_path / "out"), "60"]
  reports = cluster.run_cluster(command, workers=1, ps=1, evaluator=False,
                                timeout_s=TIMEOUT_S, chief_type="master")
  assert set(reports) == {"master:0", "worker:0"}
  serving = reports["master:0"]["serving_model_dir"]
  # The worker waited for the master's export instead of failing TFX's "no model" check.
  assert reports["worker:0"] == {"serving_model_dir": serving, "exists": True}
  assert "serving_default" in tf.saved_model.load(serving).signatures
  assert checkpoint_step(str(tmp_path / "out" / "model_run")) >= 60


def test_a_failing_task_stops_the_cluster_with_one_line(tmp_path):
  command = cluster.task_command(_task_args(str(tmp_path / "missing"), tmp_path, 10))
  with pytest.raises(cluster.ClusterError,
                     match=r"task (ps|chief|worker):0 exited with status 1: error: --data-dir .*"
                     r"missing: no such directory"):
    cluster.run_cluster(command, workers=1, ps=1, evaluator=False, timeout_s=60)


def test_a_task_past_the_timeout_stops_the_cluster(tiny_tfrecords, tmp_path):
  command = cluster.task_command(_task_args(tiny_tfrecords, tmp_path, 100000))
  with pytest.raises(cluster.ClusterError, match="timed out after 20 s waiting for chief:0"):
    cluster.run_cluster(command, workers=0, ps=1, evaluator=False, timeout_s=20)


class _Launcher:
  """`python -m trainer_module.cluster` in a subprocess, its stderr lines watched."""

  def __init__(self, tiny_tfrecords, tmp_path, steps=100000):
    args = ["--workers", "0", "--ps", "1", "--timeout", str(TIMEOUT_S), "--",
            *_task_args(tiny_tfrecords, tmp_path, steps)]
    self.proc = subprocess.Popen([sys.executable, "-m", "trainer_module.cluster", *args],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONUNBUFFERED": "1"})
    self.lines = []
    threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()
    self.job_dir = str(tmp_path / "models-job")

  def pids(self):
    """Task name -> pid, from the launcher's `started` lines."""
    found = (re.match(r"\[cluster\] started (\S+): pid (\d+)$", line.strip())
             for line in self.lines)
    return {m.group(1): int(m.group(2)) for m in found if m}

  def wait_until_training(self, timeout=TIMEOUT_S):
    """Until both tasks run and the chief's first checkpoint exists (the ps is in use)."""
    deadline = time.monotonic() + timeout
    while len(self.pids()) < 2 or checkpoint_step(self.job_dir) is None:
      assert self.proc.poll() is None, "".join(self.lines[-30:])
      assert time.monotonic() < deadline, "".join(self.lines[-30:])
      time.sleep(0.2)

  def wait(self, timeout):
    try:
      return self.proc.wait(timeout)
    finally:
      self.proc.kill()  # Only if the launcher itself hung; its tasks are checked by the test.

  def error_lines(self):
    return [line.strip() for line in self.lines if line.startswith("error: ")]


def _gone(pid):
  """True once `pid` no longer runs (a zombie counts as gone)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] == "Z"
  except FileNotFoundError:
    return True


@pytest.fixture
def launcher(tiny_tfrecords, tmp_path):
  started = _Launcher(tiny_tfrecords, tmp_path)
  yield started
  started.proc.kill()
  started.proc.wait(30)
  for pid in started.pids().values():  # Whatever happened, kill what the test started.
    if not _gone(pid):
      os.kill(pid, signal.SIGKILL)


def test_a_killed_ps_stops_the_cluster_in_seconds_naming_it(launcher):
  launcher.wait_until_training()
  pids = launcher.pids()
  os.kill(pids["ps:0"], signal.SIGKILL)
  start = time.monotonic()
  assert launcher.wait(60) == 1
  assert time.monotonic() - start < 30  # Not --timeout: the ps is watched too.
  [line] = launcher.error_lines()
  assert line.startswith("error: task ps:0 was killed by SIGKILL: ")
  assert line.endswith("(while chief:0 still ran)")
  assert all(_gone(pid) for pid in pids.values())


@pytest.mark.parametrize("signum", [
    signal.SIGTERM, pytest.param(signal.SIGHUP, marks=pytest.mark.extended)])
def test_a_signal_to_the_launcher_stops_every_task(launcher, signum):
  launcher.wait_until_training()
  pids = launcher.pids()
  launcher.proc.send_signal(signum)
  assert launcher.wait(60) == 128 + signum
  assert launcher.error_lines() == [
      f"error: stopped by {signal.Signals(signum).name}; every task was stopped"]
  assert all(_gone(pid) for pid in pids.values())  # No orphans left training.


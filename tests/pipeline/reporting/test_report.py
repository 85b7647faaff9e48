"""The run summary text, the report files, and the TensorBoard command it prints."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import tensorflow as tf

from pipeline.config import PipelineConfig
from pipeline.data import contract
from pipeline.reporting.report import format_summary, plot_title, write_report
from pipeline.reporting.summary import RunSummary
from trainer_module.hparams import HParams

CONFIG = PipelineConfig(hparams=HParams(train_steps=300, model="vgg_like", dataset="fashion_mnist"),
                        accuracy_threshold=0.88, data_dir="/d", pipeline_root="/p",
                        serving_dir="/s")


def _summary(model_run="", **overrides):
  values = dict(run_id="r1", node_states={"Trainer": "COMPLETE", "Evaluator": "COMPLETE"},
                uris={"ModelRun": model_run} if model_run else {}, accuracy=0.9,
                blessed=True, pushed_to="/s/1", baseline="cnn, 2000 steps, trained in run r0 (/m)")
  values.update(overrides)
  return RunSummary(**values)


def test_summary_names_baseline_tensorboard_and_a_fully_cached_run():
  names = contract.class_names("fashion_mnist")
  text = format_summary(_summary("/runs/7", per_class_accuracy={1: 0.97}), {"total": 3.0}, names)
  assert "baseline: cnn, 2000 steps, trained in run r0 (/m)" in text
  assert "tensorboard --logdir /runs/7" in text
  assert "  1 Trouser      0.9700" in text
  assert "nothing ran" not in text
  cached = _summary(node_states={"latest_blessed_model_resolver": "COMPLETE",
                                 "Trainer": "CACHED", "Evaluator": "CACHED"})
  assert "nothing ran: every component was reused from the cache" in format_summary(
      cached, {}, names)


def test_report_title_and_files(tmp_path):
  title = plot_title(_summary(), CONFIG)
  assert title.startswith("fashion_mnist · vgg_like · 300 steps of 100 · lr 0.001 · "
                          "test accuracy 0.9000 (threshold 0.88) · run r1")
  confusion = np.diag(np.full(10, 5.0))
  path = write_report(_summary(confusion=confusion), {"total": 1.0}, CONFIG, str(tmp_path))
  assert path == str(tmp_path / "report.md")
  with open(tmp_path / "report.png", "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert sorted(os.listdir(tmp_path)) == ["report.md", "report.png"]  # No temp files left.


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_the_printed_tensorboard_command_serves_the_run(tmp_path):
  with tf.summary.create_file_writer(str(tmp_path)).as_default():
    tf.summary.scalar("loss", 1.0, step=1)
  port = _free_port()
  tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
  server = subprocess.Popen([tensorboard, "--logdir", str(tmp_path), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
  try:
    deadline = time.monotonic() + 90
    while True:
      assert server.poll() is None, server.stderr.read().decode()[-2000:]
      try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugins_listing",
                                    timeout=5) as response:
          assert b"scalars" in response.read()
          break
      except OSError:
        assert time.monotonic() < deadline, "tensorboard did not answer in 90 s"
        time.sleep(1)
  finally:
    server.kill()
    server.wait()

"""The run summary text, the report files, and the TensorBoard command it prints."""

import json
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
from pipeline.reporting import report
from pipeline.reporting.figures import pyplot
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
  names = contract.display_class_names("fashion_mnist")
  text = format_summary(_summary("/runs/7", per_class_accuracy={1: 0.97}), {"total": 3.0}, names)
  assert "baseline: cnn, 2000 steps, trained in run r0 (/m)" in text
  assert "tensorboard --logdir /runs/7" in text
  assert "test accuracy per class (label, name):\n  1 Trouser      0.9700" in text
  assert "nothing ran" not in text
  cached = _summary(node_states={"latest_blessed_model_resolver": "COMPLETE",
                                 "Trainer": "CACHED", "Evaluator": "CACHED"})
  assert "nothing ran: every component was reused from the cache" in format_summary(
      cached, {}, names)


def test_mnist_classes_read_as_digits_and_the_signature_keeps_its_names():
  names = contract.display_class_names("mnist")
  assert names[0] == "digit 0" and names[9] == "digit 9"
  assert contract.display_class_names(None) == names
  assert contract.class_names("mnist")[0] == "0"  # What the serving signature returns.
  text = format_summary(_summary(per_class_accuracy={0: 0.9908}), {}, names)
  assert "  0 digit 0      0.9908" in text


def test_report_title_says_whether_the_run_was_blessed():
  title = plot_title(_summary(), CONFIG)
  assert title == ("fashion_mnist · vgg_like · 300 steps of 100 · lr 0.001 · run r1\n"
                   "test accuracy 0.9000 (threshold 0.88) · blessed")
  failed = _summary(accuracy=0.85, blessed=False,
                    failed_checks=["sparse_categorical_accuracy (value) = 0.8500 fails lower "
                                   "bound 0.88"])
  assert plot_title(failed, CONFIG).endswith(
      "test accuracy 0.8500 (threshold 0.88) · NOT BLESSED: sparse_categorical_accuracy "
      "(value) = 0.8500 fails lower bound 0.88")
  assert plot_title(_summary(accuracy=None, blessed=None), CONFIG).endswith(
      "test accuracy n/a (threshold 0.88) · not evaluated")


def _write_runs(model_run):
  """A model run as the trainer writes it: `train/` and `validation/` event files."""
  for run, tag, points in (("train", "loss", [(1, 2.0), (2, 1.0)]),
                           ("validation", "loss", [(2, 1.25)]),
                           ("validation", "accuracy", [(1, 0.5), (2, 0.75)])):
    with tf.summary.create_file_writer(os.path.join(model_run, run)).as_default():
      for step, value in points:
        tf.summary.scalar(tag, value, step=step)


def test_threshold_is_drawn_against_test_accuracy_not_the_validation_curve(tmp_path):
  _write_runs(str(tmp_path))
  fig, axes = pyplot().subplots(1, 3)
  report._plot_curves(axes[:2], str(tmp_path))
  report._plot_gate(axes[2], _summary(accuracy=0.9), 0.88)
  loss_ax, acc_ax, gate_ax = axes
  assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
  assert [(line.get_label(), list(line.get_ydata())) for line in acc_ax.lines] == [
      ("validation", [0.5, 0.75])]  # No threshold line on the validation curve.
  assert "validation" in acc_ax.get_title()
  [threshold] = gate_ax.lines
  assert list(threshold.get_ydata()) == [0.88, 0.88]
  [bars] = gate_ax.containers
  assert [b.get_height() for b in bars] == [0.9] and bars.get_label() == "test accuracy 0.9000"
  pyplot().close(fig)


def test_report_files(tmp_path):
  _write_runs(str(tmp_path / "run"))
  confusion = np.diag(np.full(10, 5.0))
  path = write_report(_summary(str(tmp_path / "run"), confusion=confusion), {"total": 1.0},
                      CONFIG, str(tmp_path))
  assert path == str(tmp_path / "report.md")
  with open(tmp_path / "report.png", "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert sorted(os.listdir(tmp_path)) == ["report.md", "report.png", "run"]  # No temp files.


def test_importing_the_plotting_modules_does_not_load_matplotlib():
  code = ("import sys, pipeline.reporting.figures, pipeline.experiments.plots; "
          "assert 'matplotlib' not in sys.modules, 'imported at import time'")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_the_printed_tensorboard_command_serves_runs_named_train_and_validation(tmp_path):
  _write_runs(str(tmp_path))
  port = _free_port()
  tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
  server = subprocess.Popen([tensorboard, "--logdir", str(tmp_path), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
  try:
    deadline, runs = time.monotonic() + 180, None  # TensorBoard loads TensorFlow first.
    while runs is None or (len(runs) < 2 and time.monotonic() < deadline):
      assert server.poll() is None, server.stderr.read().decode()[-2000:]
      assert time.monotonic() < deadline, "tensorboard did not answer in 180 s"
      try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs",
                                    timeout=5) as response:
          runs = json.loads(response.read())  # Empty until its first scan of the logdir.
      except OSError:
        pass
      time.sleep(0.5)
    assert sorted(runs) == ["train", "validation"]
  finally:
    server.kill()
    server.wait()


def test_no_label_of_the_report_figure_is_cut_off():
  import matplotlib.text
  names = contract.display_class_names("fashion_mnist")  # The longest rotated tick labels.
  summary = _summary(confusion=np.full((10, 10), 7.0), blessed=False, accuracy=0.85,
                     failed_checks=["sparse_categorical_accuracy (value) = 0.8500 fails lower "
                                    "bound 0.88"])
  fig = report.run_figure(summary, CONFIG)
  fig.canvas.draw()
  page = fig.bbox
  texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]
  assert {"predicted", "actual", names[9]} <= {t.get_text() for t in texts}
  for text in texts:
    box = text.get_window_extent()
    assert (box.x0 >= page.x0 and box.y0 >= page.y0 and box.x1 <= page.x1
            and box.y1 <= page.y1), (text.get_text(), box, page)
  pyplot().close(fig)


def test_report_md_names_dataset_model_and_run(tmp_path):
  write_report(_summary(), {"total": 1.0}, CONFIG, str(tmp_path))
  text = (tmp_path / "report.md").read_text()
  assert text.startswith("# Pipeline run r1: vgg_like on fashion_mnist\n")
  assert "fashion_mnist · vgg_like · 300 steps of 100" in text


def test_a_report_of_the_same_results_is_found_and_other_results_are_not(tmp_path):
  reports = tmp_path / "reports"
  first = _summary(uris={"ModelRun": "/m/7"}, confusion=np.eye(10))
  write_report(first, {"total": 1.0}, CONFIG, str(reports / "20260101-000000.1"))
  # The rerun: its own id and times, the model reused and scored the same, nothing pushed.
  rerun = _summary(run_id="20260101-000100.2", uris={"ModelRun": "/m/7"}, confusion=np.eye(10),
                   pushed_to=None, already_pushed_as="/s/1", baseline="none: already served")
  assert report.results_key(rerun, CONFIG) == report.results_key(first, CONFIG)
  assert report.matching_report(str(reports), report.results_key(rerun, CONFIG)) == str(
      reports / "20260101-000000.1")
  for other in (_summary(uris={"ModelRun": "/m/8"}, confusion=np.eye(10)),
                _summary(uris={"ModelRun": "/m/7"}, confusion=np.eye(10), accuracy=0.91),
                _summary(uris={"ModelRun": "/m/7"}, confusion=np.eye(10), blessed=False)):
    assert report.matching_report(str(reports), report.results_key(other, CONFIG)) is None
  os.remove(reports / "20260101-000000.1" / "report.png")  # Half a report matches nothing.
  assert report.matching_report(str(reports), report.results_key(rerun, CONFIG)) is None
  assert report.matching_report(str(tmp_path / "none yet"), "0" * 16) is None

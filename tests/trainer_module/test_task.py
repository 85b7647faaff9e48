"""The standalone task, run as users run it: a subprocess on prepare-data output."""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import saved_model_accuracy
from trainer_module import task


def _task(*args, timeout=300):
  return subprocess.run([sys.executable, "-m", "trainer_module.task", *args],
                        capture_output=True, text=True, timeout=timeout, check=False)


def test_task_exports_a_version_reports_its_accuracy_and_refuses_a_done_job(
    tiny_tfrecords, tmp_path):
  base = str(tmp_path / "models")
  args = ["--data-dir", tiny_tfrecords, "--dataset", "mnist", "--model", "cnn_tf_layers",
          "--train-steps", "30", "--eval-steps", "10", "--batch-size", "10", "--export-dir", base]
  first = _task(*args)
  assert first.returncode == 0, first.stderr
  result = json.loads(first.stdout)
  [version] = os.listdir(base)  # TF Serving's layout: <base>/<version>/saved_model.pb
  assert result["export_dir"] == os.path.join(base, version) and version.isdigit()
  assert result["validation_metrics"]["global_step"] == 30
  # The printed accuracy is the exported model's on the whole validation split.
  validation_accuracy = saved_model_accuracy(result["export_dir"], tiny_tfrecords, "validation")
  assert result["validation_metrics"]["accuracy"] == pytest.approx(validation_accuracy, abs=1e-6)
  # `trainer_module.score` reads the same SavedModel the way a serving client would.
  scored = subprocess.run([sys.executable, "-m", "trainer_module.score", "--model-dir",
                           result["export_dir"], "--data-dir", tiny_tfrecords, "--split",
                           "validation"], capture_output=True, text=True, timeout=300, check=True)
  report = json.loads(scored.stdout)
  assert report["accuracy"] == pytest.approx(validation_accuracy, abs=1e-6)
  assert report["examples"] == json.load(open(os.path.join(tiny_tfrecords, "counts.json")))[
      "validation"] and set(report["per_class"]) <= {f"digit {k}" for k in range(10)}
  # TensorFlow's deprecation notices are filtered, as in `python -m pipeline run`.
  assert "deprecat" not in first.stderr.lower() and len(first.stderr.splitlines()) < 30

  started = time.monotonic()
  again = _task(*args)  # Same job dir, already at step 30: nothing to train.
  assert again.returncode == 1
  assert again.stderr.strip() == (
      f"error: --job-dir {base}-job already holds a checkpoint at step 30 >= --train-steps 30, "
      "so there is nothing to train; raise --train-steps to train further, or give a new "
      "--job-dir to start over")
  assert time.monotonic() - started < 10  # Refused before TensorFlow loads.
  assert os.listdir(base) == [version]


@pytest.mark.parametrize("args,message", [
    (["--model", "alexnet"], "argument --model: invalid choice: 'alexnet'"),
    (["--batch-size", "-5"], "error: --batch-size must be positive, got -5"),
    (["--train-steps", "0"], "error: --train-steps must be positive, got 0"),
    (["--learning-rate", "0"], "error: --learning-rate must be positive, got 0.0"),
    (["--dropout", "1.5"], r"error: --dropout must be in [0, 1), got 1.5"),
])
def test_task_rejects_bad_settings_before_training(tiny_tfrecords, tmp_path, capsys, args, message):
  argv = ["--data-dir", tiny_tfrecords, "--train-steps", "5", "--export-dir", str(tmp_path / "m")]
  with pytest.raises(SystemExit) as exit_info:
    task.main(argv + args)
  assert exit_info.value.code not in (0, None)  # 2 from argparse, else the message (status 1)
  assert message in str(exit_info.value.code) + capsys.readouterr().err
  assert os.listdir(tmp_path) == []


def test_task_names_a_missing_data_dir_and_a_file_in_the_way(tmp_path, capsys):
  with pytest.raises(SystemExit) as exit_info:
    task.main(["--data-dir", str(tmp_path / "nope"), "--train-steps", "5",
               "--export-dir", str(tmp_path / "m")])
  assert "--data-dir" in str(exit_info.value.code) and "no such directory" in str(
      exit_info.value.code)
  (tmp_path / "m").write_text("")
  with pytest.raises(SystemExit) as exit_info:
    task.main(["--data-dir", str(tmp_path), "--train-steps", "5", "--export-dir",
               str(tmp_path / "m")])
  assert str(exit_info.value.code) == f"error: --export-dir {tmp_path / 'm'} is a file; give a directory"

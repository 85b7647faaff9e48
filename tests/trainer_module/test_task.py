"""The standalone task: same functions as run_fn, on prepare-data output."""

import json

import pytest
import tensorflow as tf

from trainer_module import task


def test_task_trains_and_exports(tiny_tfrecords, tmp_path, capsys):
  export_dir = str(tmp_path / "model")
  task.main(["--data-dir", tiny_tfrecords, "--model", "cnn_tf_layers", "--train-steps", "3",
             "--eval-steps", "2", "--batch-size", "10", "--export-dir", export_dir])
  metrics = json.loads(capsys.readouterr().out)
  assert metrics["global_step"] == 3.0 and 0.0 <= metrics["accuracy"] <= 1.0
  assert "serving_default" in tf.saved_model.load(export_dir).signatures
  assert tf.io.gfile.glob(str(tmp_path / "model-job" / "events.out.tfevents.*"))


@pytest.mark.parametrize("args,message", [
    (["--model", "alexnet"], "unknown model 'alexnet'"),
    (["--batch-size", "-5"], "batch_size must be positive, got -5"),
    (["--train-steps", "0"], "train_steps must be a positive number of steps, got 0"),
])
def test_task_rejects_bad_settings_before_training(tiny_tfrecords, tmp_path, capsys, args, message):
  argv = ["--data-dir", tiny_tfrecords, "--train-steps", "5", "--export-dir", str(tmp_path / "m")]
  with pytest.raises(SystemExit) as exit_info:
    task.main(argv + args)
  assert exit_info.value.code == 1
  assert message in capsys.readouterr().err
  assert not (tmp_path / "m-job").exists()


def test_task_names_a_missing_split(tmp_path, capsys):
  with pytest.raises(SystemExit):
    task.main(["--data-dir", str(tmp_path), "--train-steps", "5", "--export-dir", str(tmp_path / "m")])
  assert "no TFRecord files for split 'train'" in capsys.readouterr().err

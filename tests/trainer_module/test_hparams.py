"""The one hyperparameter type: checks, the TFX custom_config round trip, the flags."""

import argparse
import subprocess
import sys

import pytest

from trainer_module.hparams import HParams, InvalidSetting, add_flags, flag_values


@pytest.mark.parametrize("field,value,message", [
    ("train_steps", 0, "train_steps must be positive, got 0"),
    ("train_steps", 2.5, "train_steps must be a whole number, got 2.5"),
    ("learning_rate", 0.0, "learning_rate must be positive, got 0.0"),
    ("learning_rate", -1e-3, "learning_rate must be positive, got -0.001"),
    ("batch_size", -5, "batch_size must be positive, got -5"),
    ("dropout", 1.0, r"dropout must be in \[0, 1\), got 1.0"),
    ("model", "resnet", "model 'resnet' is unknown; choose one of: cnn, cnn_tf_layers, vgg_like"),
    ("dataset", "cifar10", "dataset 'cifar10' is unknown; choose one of: fashion_mnist, mnist"),
    ("distribute", "horovod", "distribute 'horovod' is unknown; choose one of: none, "
     "parameter_server, multi_worker_mirrored"),
])
def test_each_bad_value_is_named(field, value, message):
  values = {"train_steps": 10, field: value}
  with pytest.raises(InvalidSetting, match=message) as error:
    HParams(**values)
  assert error.value.name == field


def test_custom_config_round_trip_keeps_steps_out():
  hparams = HParams(train_steps=70, eval_steps=3, model="vgg_like", dropout=0.2, dataset="mnist")
  config = hparams.to_custom_config()
  assert set(config) == {"hparams"}
  assert "train_steps" not in config["hparams"] and "eval_steps" not in config["hparams"]
  assert HParams.from_custom_config(config, 70, 3) == hparams
  # TFX extensions (the Vertex AI Trainer) add keys of their own beside ours.
  with_vertex = {**config, "ai_platform_training_args": {"project": "p"}}
  assert HParams.from_custom_config(with_vertex, 70, 3) == hparams


def test_only_the_flags_given_are_values():
  parser = argparse.ArgumentParser()
  add_flags(parser, per_dataset={"mnist": {"train_steps": 9}})
  assert flag_values(parser.parse_args([])) == {}
  assert flag_values(parser.parse_args(["--train-steps", "5", "--learning-rate", "0.01",
                                        "--no-augment"])) == {
      "train_steps": 5, "learning_rate": 0.01, "augment": False}
  assert "training batches (default: mnist 9)" in " ".join(parser.format_help().split())


def test_multi_flags_take_several_values_but_switches_one():
  parser = argparse.ArgumentParser()
  add_flags(parser, per_dataset={}, multi=True)
  args = parser.parse_args(["--train-steps", "5", "6", "--model", "cnn", "vgg_like", "--augment"])
  assert flag_values(args) == {"train_steps": [5, 6], "model": ["cnn", "vgg_like"],
                               "augment": True}


def test_importing_hparams_loads_no_tensorflow():
  code = ("import sys, trainer_module.hparams, pipeline.config, pipeline.cli; "
          "print(sorted(m for m in ('tensorflow', 'apache_beam', 'tfx') if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]"

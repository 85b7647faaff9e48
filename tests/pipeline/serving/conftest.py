"""A real SavedModel, trained briefly on the tiny separable dataset and exported as the
trainer exports it, under a serving base dir as the Pusher lays it out."""

import os

import pytest


@pytest.fixture(scope="session")
def served_model(tiny_tfrecords, tmp_path_factory):
  """(base dir, version dir) of a fashion_mnist-named `cnn_tf_layers` model, 60 steps."""
  from trainer_module.hparams import HParams  # pylint: disable=import-outside-toplevel
  from trainer_module.inputs import split_files  # pylint: disable=import-outside-toplevel
  from trainer_module.trainer import train_and_export  # pylint: disable=import-outside-toplevel
  root = tmp_path_factory.mktemp("served")
  base = str(root / "serving_model")
  version = os.path.join(base, "1700000000")
  hparams = HParams(train_steps=60, model="cnn_tf_layers", eval_steps=2, batch_size=20,
                    dataset="fashion_mnist", checkpoints=1)
  train_and_export(hparams, split_files(tiny_tfrecords, "train"),
                   split_files(tiny_tfrecords, "validation"), model_dir=str(root / "job"),
                   export_dir=version)
  return base, version

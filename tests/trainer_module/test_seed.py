"""Seeded training: the same seed gives the same data order, distortions and final loss."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from trainer_module.hparams import HParams, InvalidSetting, add_flags, flag_values
from trainer_module.inputs import augment_batch, make_input_fn, split_files
from trainer_module.model_fn import model_fn
from trainer_module.trainer import seed_tensorflow


def _initial_kernel(seed):
  """conv1's initial kernel of `cnn` (Keras layers) in a fresh graph, as the Estimator builds it."""
  seed_tensorflow(HParams(train_steps=1, seed=seed))
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(seed)  # What RunConfig(tf_random_seed=seed) does.
    tf.compat.v1.train.create_global_step()
    model_fn({"pixels": tf.zeros([2, 784])}, tf.constant([0, 1], tf.int64), "train",
             {**HParams(train_steps=1).estimator_params(), "precision": "float32"})
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return sess.run(tf.compat.v1.trainable_variables()[0])


def test_seed_repeats_the_keras_initial_weights():
  # Keras draws unseeded initializers' seeds from its own generator, not the graph seed.
  np.testing.assert_array_equal(_initial_kernel(7), _initial_kernel(7))
  assert not np.array_equal(_initial_kernel(7), _initial_kernel(8))


def test_seeded_augmentation_repeats_and_depends_on_the_seed():
  images = tf.constant(np.random.default_rng(0).random((16, 784), dtype=np.float32))

  def distort(seed):
    return augment_batch(images, 2, True, tf.constant(seed, tf.int64)).numpy()

  np.testing.assert_array_equal(distort([1, 5]), distort([1, 5]))
  assert not np.array_equal(distort([1, 5]), distort([1, 6]))
  assert not np.array_equal(distort([1, 5]), images.numpy())


def _first_labels(files, seed, batches=3):
  input_fn = make_input_fn(files, 8, training=True, augment_shift=2, augment_flip=True,
                           seed=seed)
  out = [(features["pixels"].numpy(), labels.numpy())
         for features, labels in input_fn().take(batches)]
  return np.concatenate([p for p, _ in out]), np.concatenate([y for _, y in out])


def test_seeded_input_repeats_order_and_distortions(tiny_tfrecords):
  files = split_files(tiny_tfrecords, "train")
  first, again, other = (_first_labels(files, s) for s in (3, 3, 4))
  np.testing.assert_array_equal(first[0], again[0])
  np.testing.assert_array_equal(first[1], again[1])
  assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("values,message", [
    ({"seed": -1}, r"seed must be a whole number in \[0, 2\*\*31\), got -1"),
    ({"seed": 1.5}, r"seed must be a whole number in \[0, 2\*\*31\), got 1.5"),
    ({"deterministic": True}, r"deterministic needs a seed \(--seed N\)"),
    ({"early_stopping_patience": 0},
     r"early_stopping_patience must be a whole number >= 1 \(evaluations\), got 0"),
])
def test_bad_reproducibility_settings_are_named(values, message):
  with pytest.raises(InvalidSetting, match=message):
    HParams(train_steps=10, **values)


def test_new_fields_default_to_the_old_training():
  h = HParams(train_steps=10)
  assert (h.precision, h.seed, h.deterministic, h.early_stopping_patience) == (
      "auto", None, False, None)
  assert HParams.from_custom_config(h.to_custom_config(), 10, 100) == h


def test_the_new_flags_set_the_fields():
  parser = argparse.ArgumentParser()
  add_flags(parser, per_dataset={})
  args = parser.parse_args(["--train-steps", "5", "--precision", "mixed_bfloat16", "--seed", "3",
                            "--deterministic", "--early-stopping-patience", "2"])
  assert HParams(**flag_values(args)) == HParams(
      train_steps=5, precision="mixed_bfloat16", seed=3, deterministic=True,
      early_stopping_patience=2)


@pytest.mark.extended
def test_two_deterministic_runs_of_one_command_end_with_the_same_loss(tiny_tfrecords, tmp_path):
  """Three task processes at once: seed 7 twice, seed 8 once (which must differ)."""
  def start(name, seed):
    return subprocess.Popen(
        [sys.executable, "-m", "trainer_module.task", "--data-dir", tiny_tfrecords,
         "--model", "cnn", "--train-steps", "20", "--eval-steps", "5", "--batch-size", "10",
         "--augment", "--augment-flip", "--precision", "float32", "--seed", str(seed),
         "--deterministic", "--export-dir", str(tmp_path / name)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

  runs = [start("a", 7), start("b", 7), start("c", 8)]
  results = []
  try:
    for run in runs:
      out, err = run.communicate(timeout=900)
      assert run.returncode == 0, err
      results.append(json.loads(out))
  finally:
    for run in runs:
      run.kill()
      run.wait()
  a, b, c = results
  assert a["last_loss"] == b["last_loss"] and a["validation_metrics"] == b["validation_metrics"]
  assert a["last_loss"] != c["last_loss"]

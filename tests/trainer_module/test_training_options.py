"""The training options: learning-rate schedule, warmup, augmentation, label smoothing."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import estimator as tf_estimator

from trainer_module import models
from trainer_module.hparams import HParams, InvalidSetting
from trainer_module.inputs import augment_batch
from trainer_module.model_fn import learning_rate, model_fn


def _rate(step, **params):
  values = {"learning_rate": 1.0, "train_steps": 100, **params}
  return float(learning_rate(values, tf.constant(step, tf.int64)))


def test_constant_is_the_default():
  assert [_rate(s) for s in (0, 50, 100)] == [1.0, 1.0, 1.0]


def test_cosine_decays_to_zero_after_warmup():
  params = {"lr_schedule": "cosine", "warmup_steps": 10}
  assert _rate(0, **params) == pytest.approx(0.1)
  assert _rate(9, **params) == pytest.approx(1.0)
  assert _rate(55, **params) == pytest.approx(0.5, abs=1e-6)
  assert _rate(100, **params) == pytest.approx(0.0, abs=1e-7)
  assert _rate(150, **params) == pytest.approx(0.0, abs=1e-7)


def test_augment_shifts_each_image_within_bounds():
  images = np.zeros((64, 28, 28), np.float32)
  images[:, 10, 12] = 1.0
  out = augment_batch(tf.constant(images.reshape(64, 784)), shift=2).numpy().reshape(64, 28, 28)
  spots = np.array([np.argwhere(image)[0] for image in out])
  assert out.sum() == 64  # Every pixel kept, none duplicated.
  assert (np.abs(spots - [10, 12]) <= 2).all() and len({tuple(s) for s in spots}) > 1


def test_flip_mirrors_some_images():
  images = np.zeros((64, 28, 28), np.float32)
  images[:, 5, 3] = 1.0
  out = augment_batch(tf.constant(images.reshape(64, 784)), shift=0, flip=True).numpy()
  columns = {int(np.argwhere(image.reshape(28, 28))[0][1]) for image in out}
  assert columns == {3, 24}


def _fixed_logits(images, training, dropout, precision):
  """An architecture with known logits (and one variable for the optimizer)."""
  scale = tf.compat.v1.get_variable("scale", initializer=1.0)
  logits = scale * tf.tile(tf.constant([[2.0, 1.0] + [0.0] * 8]), [tf.shape(images)[0], 1])
  return logits, {}


def test_label_smoothing_changes_only_the_training_loss(monkeypatch):
  monkeypatch.setattr(models, "get_model", lambda name: _fixed_logits)
  labels = np.array([0, 1, 2, 3])
  losses = {}
  for smoothing in (0.0, 0.2):
    for mode in (tf_estimator.ModeKeys.TRAIN, tf_estimator.ModeKeys.EVAL):
      with tf.Graph().as_default():
        tf.compat.v1.train.create_global_step()
        params = HParams(train_steps=1, label_smoothing=smoothing).estimator_params()
        spec = model_fn({"pixels": tf.zeros([4, 784])}, tf.constant(labels, tf.int64), mode, params)
        with tf.compat.v1.Session() as sess:
          sess.run(tf.compat.v1.global_variables_initializer())
          losses[smoothing, mode] = sess.run(spec.loss)
  log_p = np.array([2.0, 1.0] + [0.0] * 8) - np.log(np.exp(2.0) + np.exp(1.0) + 8)
  plain = -log_p[labels].mean()
  smoothed = -(0.8 * log_p[labels] + 0.2 * log_p.mean()).mean()
  assert losses[0.0, "train"] == pytest.approx(plain, rel=1e-5)
  assert losses[0.0, "eval"] == pytest.approx(plain, rel=1e-5)
  assert losses[0.2, "eval"] == pytest.approx(plain, rel=1e-5)
  assert losses[0.2, "train"] == pytest.approx(smoothed, rel=1e-5)


@pytest.mark.parametrize("values,message", [
    ({"lr_schedule": "step"}, "lr_schedule 'step' is unknown; choose one of: constant, cosine"),
    ({"warmup_steps": -1}, "warmup_steps must be a whole number >= 0, got -1"),
    ({"augment": "yes"}, "augment must be true or false, got 'yes'"),
    ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\), got 1.0"),
])
def test_bad_options_are_named(values, message):
  with pytest.raises(InvalidSetting, match=message):
    HParams(train_steps=10, **values)


def test_defaults_keep_the_old_training():
  hparams = HParams(train_steps=10)
  assert (hparams.lr_schedule, hparams.warmup_steps, hparams.augment, hparams.augment_flip,
          hparams.label_smoothing) == ("constant", 0, False, False, 0.0)


def test_a_run_shorter_than_its_warmup_is_allowed_and_never_reaches_the_peak():
  # A compiled pipeline's train_steps can be lowered at run time below the warmup.
  HParams(train_steps=10, warmup_steps=100, lr_schedule="cosine")
  rates = [_rate(s, lr_schedule="cosine", warmup_steps=100, train_steps=10) for s in (0, 9)]
  assert rates == pytest.approx([0.01, 0.1])

"""model_fn per architecture and mode: shapes, dtypes, and when dropout is active."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import estimator as tf_estimator

from trainer_module.hparams import MODEL_NAMES, HParams, InvalidSetting
from trainer_module.model_fn import model_fn

MODES = [tf_estimator.ModeKeys.TRAIN, tf_estimator.ModeKeys.EVAL, tf_estimator.ModeKeys.PREDICT]
BATCH = 4


def _run_twice(name, mode, dropout=None):
  """Builds model_fn in a fresh graph, runs its predictions twice on one batch."""
  pixels = np.random.default_rng(0).random((BATCH, 784), dtype=np.float32)
  with tf.Graph().as_default():
    tf.compat.v1.train.create_global_step()
    labels = None if mode == tf_estimator.ModeKeys.PREDICT else tf.constant([0, 1, 2, 3], tf.int64)
    params = HParams(train_steps=1, dropout=dropout).estimator_params()
    params["model"] = name  # Unchecked here, to show model_fn's own error.
    spec = model_fn({"pixels": tf.constant(pixels)}, labels, mode, params)
    with tf.compat.v1.Session() as sess:
      sess.run([tf.compat.v1.global_variables_initializer(),
                tf.compat.v1.local_variables_initializer()])
      return spec, sess.run(spec.predictions), sess.run(spec.predictions)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_outputs_and_dropout(name, mode):
  spec, first, second = _run_twice(name, mode)
  assert first["logits"].shape == (BATCH, 10) and first["logits"].dtype == np.float32
  assert first["classes"].shape == (BATCH,) and first["classes"].dtype == np.int64
  np.testing.assert_allclose(first["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
  if mode == tf_estimator.ModeKeys.TRAIN:
    assert spec.train_op is not None and spec.loss.shape == ()
    # Dropout is on: the same batch gives different logits on each run.
    assert not np.allclose(first["logits"], second["logits"])
  else:
    np.testing.assert_array_equal(first["logits"], second["logits"])
  if mode == tf_estimator.ModeKeys.EVAL:
    assert {"accuracy", "accuracy/class_0", "accuracy/class_9"} <= set(spec.eval_metric_ops)
  if mode == tf_estimator.ModeKeys.PREDICT:
    assert set(spec.export_outputs) == {"serving_default", "classification"}


def test_zero_dropout_makes_training_forward_deterministic():
  _, first, second = _run_twice("cnn", tf_estimator.ModeKeys.TRAIN, dropout=0.0)
  np.testing.assert_array_equal(first["logits"], second["logits"])


def test_unknown_model_is_named():
  with pytest.raises(InvalidSetting,
                     match="model 'resnet' is unknown; choose one of: cnn, cnn_tf_layers, vgg_like"):
    _run_twice("resnet", tf_estimator.ModeKeys.PREDICT)

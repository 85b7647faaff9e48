"""The custom Estimator `model_fn`: architecture by name, Adam, accuracy metrics."""

import math

import tensorflow as tf
from tensorflow import estimator as tf_estimator

from pipeline.data.contract import COLS, NUM_CLASSES, ROWS
from trainer_module import models
from trainer_module import precision
from trainer_module.precision import FLOAT32

PREDICT_OUTPUT = "serving_default"
CLASSIFY_OUTPUT = "classification"


def _metrics(labels: tf.Tensor, classes: tf.Tensor) -> dict:
  """Overall accuracy and the accuracy within each true class."""
  metrics = {"accuracy": tf.compat.v1.metrics.accuracy(labels, classes)}
  for k in range(NUM_CLASSES):
    weights = tf.cast(tf.equal(labels, k), tf.float32)
    metrics[f"accuracy/class_{k}"] = tf.compat.v1.metrics.accuracy(labels, classes, weights)
  return metrics


def learning_rate(params: dict, global_step: tf.Tensor) -> tf.Tensor:
  """The learning rate at `global_step`: params' schedule, after a linear warmup.

  "constant" keeps params["learning_rate"]; "cosine" decays it to 0 over the
  steps from the end of warmup to params["train_steps"]. During the first
  params["warmup_steps"] steps it rises linearly to its full value.
  """
  base = float(params["learning_rate"])
  warmup = int(params.get("warmup_steps") or 0)
  step = tf.cast(global_step, tf.float32)
  rate = tf.constant(base)
  if params.get("lr_schedule", "constant") == "cosine":
    decay_steps = max(1, int(params["train_steps"]) - warmup)
    progress = tf.clip_by_value((step - warmup) / decay_steps, 0.0, 1.0)
    rate = 0.5 * base * (1.0 + tf.cos(math.pi * progress))
  if warmup:
    rate = tf.minimum(rate, base * (step + 1.0) / warmup)
  return rate


def _export_outputs(probabilities: tf.Tensor, classes: tf.Tensor, names: list) -> dict:
  """Predict outputs, and a classify signature whose classes are the class names."""
  class_names = tf.tile(tf.expand_dims(tf.constant(names), 0), [tf.shape(probabilities)[0], 1])
  return {
      PREDICT_OUTPUT: tf_estimator.export.PredictOutput(
          {"probabilities": probabilities, "classes": classes}),
      # Gives TF Serving's :classify REST API a signature (classes as strings + scores).
      CLASSIFY_OUTPUT: tf_estimator.export.ClassificationOutput(
          scores=probabilities, classes=class_names),
  }


def model_fn(features, labels, mode, params):
  """Estimator model_fn.

  Args:
    features: {"pixels": float32 [N, 784] in [0, 1]}.
    labels: int64 [N] in 0..9 (None in PREDICT).
    mode: a `tf.estimator.ModeKeys`.
    params: `HParams.estimator_params()`: model, learning_rate, dropout (or
      None), class_names, and optionally lr_schedule, warmup_steps,
      train_steps, label_smoothing and precision (resolved: float32 or
      mixed_bfloat16; see trainer.build_estimator).

  Returns:
    An EstimatorSpec; dropout is active only in TRAIN. Logits, probabilities
    and the loss are float32 in every precision.
  """
  architecture = models.get_model(params["model"])
  images = tf.reshape(features["pixels"], [-1, ROWS, COLS, 1])
  training = mode == tf_estimator.ModeKeys.TRAIN
  count = tf.shape(images)[0]
  if mode == tf_estimator.ModeKeys.PREDICT:
    # Convolutions fail on an empty batch; run one blank image instead and return
    # none of its results, so an empty request gets an empty answer.
    images = tf.cond(count > 0, lambda: images, lambda: tf.zeros([1, ROWS, COLS, 1]))
    # The cond's output has no static rank in a converted graph; restated, the
    # convolutions convert to TFLite's own kernels (trainer_module/tflite.py).
    images = tf.reshape(images, [-1, ROWS, COLS, 1])
  # build_estimator resolves "auto" once; a direct caller may pass it unresolved.
  compute = precision.resolve(params.get("precision") or FLOAT32, params["model"])
  logits, activations = architecture(images, training, params.get("dropout"), compute)
  logits = logits[:count]
  probabilities = tf.nn.softmax(logits, name="probabilities")
  classes = tf.argmax(logits, axis=1, name="classes")
  predictions = {"probabilities": probabilities, "classes": classes, "logits": logits}
  if mode == tf_estimator.ModeKeys.PREDICT:
    return tf_estimator.EstimatorSpec(
        mode, predictions=predictions,
        export_outputs=_export_outputs(probabilities, classes, params["class_names"]))

  smoothing = float(params.get("label_smoothing") or 0.0)
  if mode == tf_estimator.ModeKeys.TRAIN and smoothing:
    loss = tf.compat.v1.losses.softmax_cross_entropy(
        tf.one_hot(labels, NUM_CLASSES), logits, label_smoothing=smoothing)
  else:
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
  if mode == tf_estimator.ModeKeys.EVAL:
    return tf_estimator.EstimatorSpec(
        mode, loss=loss, predictions=predictions, eval_metric_ops=_metrics(labels, classes))

  # In their own name scope: the layers already own `conv1`/`dense`, which would
  # otherwise turn the tags into `conv1_1`/`dense_1`.
  with tf.name_scope("activations"):
    for name, tensor in activations.items():
      tf.compat.v1.summary.histogram(name, tf.cast(tensor, tf.float32))
  batch_accuracy = tf.reduce_mean(tf.cast(tf.equal(classes, labels), tf.float32))
  tf.compat.v1.summary.scalar("train_accuracy", batch_accuracy)
  global_step = tf.compat.v1.train.get_global_step()
  rate = learning_rate(params, global_step)
  tf.compat.v1.summary.scalar("learning_rate", rate)
  optimizer = tf.compat.v1.train.AdamOptimizer(rate)
  train_op = optimizer.minimize(loss, global_step=global_step)
  return tf_estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, predictions=predictions)

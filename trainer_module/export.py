"""Serving export: what TF Serving, TFMA and InfraValidator expect.

Signatures:
  serving_default          examples: DT_STRING [None] (serialized tf.Example)
                           -> probabilities [N, 10], classes [N]
  classification           tensorflow/serving/classify over the same input
  pixels:serving_default   pixels: float [None, 784] in [0, 1], like the seed's
                           serving_input_receiver_fn
  pixels:classification    the classify form of the above
"""

import os
import tempfile
from typing import Optional

import tensorflow as tf
from tensorflow import estimator as tf_estimator
from tfx.utils import io_utils

from trainer_module.features import PIXELS, SERVING_FEATURE_SPEC, IMAGE_KEY, decode_pixels

EXAMPLES_INPUT = "examples"
PIXELS_INPUT = "pixels"
# Requests above this many images are refused with a message: 20,000 examples took
# 4.4 GB in one request. Split larger batches on the client.
MAX_BATCH = 1024
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def _checked_batch(batch: tf.Tensor, what: str) -> tf.Tensor:
  """`batch` once its first dimension is known to be at most MAX_BATCH."""
  check = tf.debugging.assert_less_equal(
      tf.shape(batch)[0], MAX_BATCH,
      message=f"at most {MAX_BATCH} {what} per request; split the batch")
  with tf.control_dependencies([check]):
    return tf.identity(batch)


def _checked_pixels(pixels: tf.Tensor) -> tf.Tensor:
  """Pixels once known to be finite and in [0, 1]: NaN, inf or 255-scaled input is refused.

  Refused rather than clipped: a client sending 0..255 or garbage should learn it,
  not get confident answers for images the model never saw.
  """
  # The range checks read the finiteness check's output, so NaN is named as NaN.
  finite = tf.debugging.assert_all_finite(pixels, f"{PIXELS_INPUT} must be finite numbers")
  in_range = f"{PIXELS_INPUT} must be in [0, 1] (scale 0..255 pixels by 1/255)"
  checks = [tf.debugging.assert_greater_equal(finite, 0.0, message=in_range),
            tf.debugging.assert_less_equal(finite, 1.0, message=in_range)]
  with tf.control_dependencies(checks):
    return _checked_batch(pixels, "images")


def serving_input_receiver_fn() -> tf_estimator.export.ServingInputReceiver:
  """Serialized tf.Examples by default, raw pixels as the alternative input.

  `pixels` defaults to the decoded examples; feeding it directly bypasses the
  parsing, which is how one graph serves both input forms.
  """
  examples = tf.compat.v1.placeholder(tf.string, [None], name="input_example_tensor")
  parsed = tf.io.parse_example(_checked_batch(examples, "examples"), SERVING_FEATURE_SPEC)
  pixels = tf.compat.v1.placeholder_with_default(
      decode_pixels(parsed[IMAGE_KEY]), [None, PIXELS], name="pixels")
  return tf_estimator.export.ServingInputReceiver(
      features={"pixels": _checked_pixels(pixels)},
      receiver_tensors={EXAMPLES_INPUT: examples},
      receiver_tensors_alternatives={PIXELS_INPUT: {PIXELS_INPUT: pixels}})


def export_serving_model(estimator: tf_estimator.Estimator, export_dir: str,
                         checkpoint_path: Optional[str] = None) -> str:
  """Exports a checkpoint (default: the latest) as a SavedModel directly in `export_dir`.

  Estimators export into a timestamped subdirectory; TFX wants the model at
  `export_dir` itself, so export next to it and copy it in.
  """
  with tempfile.TemporaryDirectory() as tmp:
    exported = estimator.export_saved_model(tmp, serving_input_receiver_fn,
                                            checkpoint_path=checkpoint_path).decode()
    write_warmup_requests(exported)
    io_utils.copy_dir(exported, export_dir)
  return export_dir


def write_warmup_requests(saved_model_dir: str) -> str:
  """Writes TF Serving's warmup file: one request per signature, replayed at load.

  Without it the first real request pays for graph initialisation.
  """
  from tensorflow_serving.apis import (classification_pb2, predict_pb2,  # pylint: disable=import-outside-toplevel
                                       prediction_log_pb2)
  blank = tf.train.Example(features=tf.train.Features(feature={IMAGE_KEY: tf.train.Feature(
      bytes_list=tf.train.BytesList(value=[bytes(PIXELS)]))}))
  predict = predict_pb2.PredictRequest()
  predict.model_spec.signature_name = "serving_default"
  predict.inputs[EXAMPLES_INPUT].CopyFrom(tf.make_tensor_proto([blank.SerializeToString()]))
  classify = classification_pb2.ClassificationRequest()
  classify.model_spec.signature_name = "classification"
  classify.input.example_list.examples.add().CopyFrom(blank)
  path = os.path.join(saved_model_dir, WARMUP_FILE)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path) as writer:
    for log in (prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=predict)),
                prediction_log_pb2.PredictionLog(
                    classify_log=prediction_log_pb2.ClassifyLog(request=classify))):
      writer.write(log.SerializeToString())
  return path

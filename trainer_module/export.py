"""Serving export: what TF Serving, TFMA and InfraValidator expect.

Signatures:
  serving_default          examples: DT_STRING [None] (serialized tf.Example)
                           -> probabilities [N, 10], classes [N]
  classification           tensorflow/serving/classify over the same input
  pixels:serving_default   pixels: float [None, 784] in [0, 1], like the seed's
                           serving_input_receiver_fn

A malformed request is refused with a message saying what the input should be:
a batch that is not 1-D (examples) or [N, 784] (pixels), an oversized example
(refused by its length, before any parsing), bytes that are not a serialized
tf.Example, an example without exactly one `image_raw` value, an image that is
not 784 bytes, pixels outside [0, 1]. Requests refused before the graph runs (a
wrong dtype or input name) get TensorFlow's own message (README, "The serving model").
"""

import os
import tempfile
from typing import Optional

import tensorflow as tf
from tensorflow import estimator as tf_estimator
from tfx.utils import io_utils

from pipeline.data.contract import EXAMPLES_INPUT
from trainer_module.features import IMAGE_KEY, PIXELS, decode_pixels

PIXELS_INPUT = "pixels"
# Requests above this many images are refused with a message: 20,000 examples took
# 4.4 GB in one request. Split larger batches on the client.
MAX_BATCH = 1024
# A serialized example holds 784 bytes of pixels plus a few dozen of framing; a label or
# other features add little. Larger ones are refused by length, before parsing copies them.
MAX_EXAMPLE_BYTES = 64 * 1024
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
EXAMPLES_EXPECTED = (f"{EXAMPLES_INPUT} must be a 1-D batch [N] of serialized tf.Example "
                     f"strings, each with one {IMAGE_KEY} of {PIXELS} bytes (28x28 uint8 pixels)")
PIXELS_EXPECTED = (f"{PIXELS_INPUT} must be float32 [N, {PIXELS}]: N images of 28x28 "
                   "pixels in [0, 1], row by row")


def _checked_batch(batch: tf.Tensor, what: str) -> tf.Tensor:
  """`batch` once its first dimension is known to be at most MAX_BATCH."""
  check = tf.debugging.assert_less_equal(
      tf.shape(batch)[0], MAX_BATCH,
      message=f"at most {MAX_BATCH} {what} per request; split the batch")
  with tf.control_dependencies([check]):
    return tf.identity(batch)


def _leading_dims(tensor: tf.Tensor, count: int) -> tf.Tensor:
  """The first `count` dimensions of `tensor`'s runtime shape, -1 past its rank.

  Read from values, not from the rank: the signature declares the rank, so
  TensorFlow folds rank checks to constants, while a request may send any shape.
  """
  return tf.concat([tf.shape(tensor), tf.fill([count], -1)], 0)[:count]


def _checked_shape(tensor: tf.Tensor, inner: int, message: str) -> tf.Tensor:
  """`tensor` once known to be [N] (inner 0) or [N, inner]: any other shape gets `message`."""
  dims = _leading_dims(tensor, 3)
  if inner:
    ok = tf.logical_and(tf.equal(dims[1], inner), tf.equal(dims[2], -1))
  else:
    ok = tf.logical_and(tf.greater_equal(dims[0], 0), tf.equal(dims[1], -1))
  check = tf.debugging.Assert(ok, [message + "; got shape", tf.shape(tensor)])
  with tf.control_dependencies([check]):
    return tf.identity(tensor)


def _framed_as_examples(examples: tf.Tensor) -> tf.Tensor:
  """True per string that has a tf.Example's outer framing: empty, or field 1 spanning the rest.

  `tf.train.Example.SerializeToString()` writes byte 0x0A, the length of the
  `features` message as a varint, then that message. Random bytes, non-UTF-8
  text and truncated examples fail this. They must not reach ParseExample: its
  error quotes the raw bytes, which Python then fails to decode (a TypeError
  that names no input). Lengths are at most MAX_EXAMPLE_BYTES (checked first),
  so the varint has at most 3 bytes.
  """
  head = tf.strings.substr(tf.strings.join([tf.strings.substr(examples, 0, 4), "\0" * 4]), 0, 4)
  # [N, 4]; the reshape gives an empty batch its 4 columns (decode_raw makes it [0, 0]).
  octets = tf.reshape(tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int32), [-1, 4])
  b1, b2, b3 = octets[:, 1], octets[:, 2], octets[:, 3]
  one, two = b1 < 128, tf.logical_and(b1 >= 128, b2 < 128)
  three = tf.logical_and(tf.logical_and(b1 >= 128, b2 >= 128), b3 < 128)
  low = b1 % 128 + (b2 % 128) * 128
  # The framed length: tag byte, varint bytes, then the message the varint counts.
  framed_length = tf.where(one, 2 + b1, tf.where(two, 3 + low, 4 + low + b3 * 16384))
  framed = tf.logical_and(tf.logical_and(tf.equal(octets[:, 0], 10),
                                         tf.logical_or(tf.logical_or(one, two), three)),
                          tf.equal(framed_length, tf.strings.length(examples)))
  return tf.logical_or(framed, tf.equal(tf.strings.length(examples), 0))


def _parsed_images(examples: tf.Tensor) -> tf.Tensor:
  """Serialized tf.Examples [N] -> their image_raw bytes [N], each example checked first.

  The byte length is checked before parsing, so an oversized request is refused
  without being copied; `image_raw` is parsed ragged, so an example with two
  values (or none) is named as such instead of "Can't parse serialized Example".
  """
  examples = _checked_batch(_checked_shape(examples, 0, EXAMPLES_EXPECTED), "examples")
  small = tf.debugging.assert_less_equal(
      tf.strings.length(examples), MAX_EXAMPLE_BYTES,
      message=f"each serialized tf.Example must be at most {MAX_EXAMPLE_BYTES} bytes "
              f"(one holds {PIXELS} bytes of pixels); lengths")
  with tf.control_dependencies([small]):  # Even the framing is read only once sizes are known.
    framed = _framed_as_examples(examples)
    framed = tf.debugging.Assert(tf.reduce_all(framed), [
        f"each of {EXAMPLES_INPUT} must be a serialized tf.Example (the bytes of "
        "tf.train.Example.SerializeToString()); framed as one, per example:", framed])
  with tf.control_dependencies([framed]):
    parsed = tf.io.parse_example(tf.identity(examples),
                                 {IMAGE_KEY: tf.io.RaggedFeature(tf.string)})
  images = parsed[IMAGE_KEY]
  one = tf.debugging.assert_equal(
      images.row_lengths(), tf.constant(1, images.row_splits.dtype),
      message=f"each tf.Example must hold exactly one {IMAGE_KEY} value ({PIXELS} bytes of "
              "28x28 uint8 pixels); values per example")
  with tf.control_dependencies([one]):
    return tf.identity(images.flat_values)


def _checked_pixels(pixels: tf.Tensor) -> tf.Tensor:
  """Pixels once known to be finite and in [0, 1]: NaN, inf or 255-scaled input is refused.

  Refused rather than clipped: a client sending 0..255 or garbage should learn it,
  not get confident answers for images the model never saw.
  """
  pixels = _checked_shape(pixels, PIXELS, PIXELS_EXPECTED)
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
  pixels = tf.compat.v1.placeholder_with_default(
      decode_pixels(_parsed_images(examples)), [None, PIXELS], name="pixels")
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
  from tensorflow_serving.apis import (classification_pb2, predict_pb2,
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

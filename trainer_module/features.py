"""tf.Example <-> tensors, shared by training input and the serving signature."""

from typing import Tuple

import tensorflow as tf

from pipeline.data.contract import IMAGE_KEY, LABEL_KEY, PIXELS

FEATURE_SPEC = {
    IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
    LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
}


def decode_pixels(image_raw: tf.Tensor) -> tf.Tensor:
  """Bytes [N] of 784 uint8 pixels -> float32 [N, 784] in [0, 1].

  Fails with a message naming the expected size if any string is not 784
  bytes long, rather than reshaping garbage.
  """
  lengths = tf.strings.length(image_raw)
  check = tf.debugging.assert_equal(
      lengths, tf.constant(PIXELS, tf.int32),
      message=f"{IMAGE_KEY} must be exactly {PIXELS} bytes (28x28 uint8 pixels)")
  with tf.control_dependencies([check]):
    pixels = tf.io.decode_raw(image_raw, tf.uint8)
  return tf.reshape(tf.cast(pixels, tf.float32) / 255.0, [-1, PIXELS])


def parse_batch(serialized: tf.Tensor) -> Tuple[dict, tf.Tensor]:
  """A batch of serialized tf.Examples -> ({"pixels": [N, 784]}, labels [N])."""
  parsed = tf.io.parse_example(serialized, FEATURE_SPEC)
  return {"pixels": decode_pixels(parsed[IMAGE_KEY])}, parsed[LABEL_KEY]

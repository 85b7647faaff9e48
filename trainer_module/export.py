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

import tensorflow as tf
from tensorflow import estimator as tf_estimator
from tfx.utils import io_utils

from trainer_module.features import PIXELS, SERVING_FEATURE_SPEC, IMAGE_KEY, decode_pixels

EXAMPLES_INPUT = "examples"
PIXELS_INPUT = "pixels"


def serving_input_receiver_fn() -> tf_estimator.export.ServingInputReceiver:
  """Serialized tf.Examples by default, raw pixels as the alternative input.

  `pixels` defaults to the decoded examples; feeding it directly bypasses the
  parsing, which is how one graph serves both input forms.
  """
  examples = tf.compat.v1.placeholder(tf.string, [None], name="input_example_tensor")
  parsed = tf.io.parse_example(examples, SERVING_FEATURE_SPEC)
  pixels = tf.compat.v1.placeholder_with_default(
      decode_pixels(parsed[IMAGE_KEY]), [None, PIXELS], name="pixels")
  return tf_estimator.export.ServingInputReceiver(
      features={"pixels": pixels},
      receiver_tensors={EXAMPLES_INPUT: examples},
      receiver_tensors_alternatives={PIXELS_INPUT: {PIXELS_INPUT: pixels}})


def export_serving_model(estimator: tf_estimator.Estimator, export_dir: str) -> str:
  """Exports the latest checkpoint as a SavedModel directly in `export_dir`.

  Estimators export into a timestamped subdirectory; TFX wants the model at
  `export_dir` itself, so export next to it and copy it in.
  """
  with tempfile.TemporaryDirectory() as tmp:
    exported = estimator.export_saved_model(tmp, serving_input_receiver_fn).decode()
    io_utils.copy_dir(exported, export_dir)
  return export_dir

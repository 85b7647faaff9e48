"""A TFLite conversion of a SavedModel's `pixels` signature, written inside a version dir.

As TFX's examples/mnist does, each pushed version also carries a TFLite model:

  <base>/<version>/tflite/model.tflite   input `pixels` float32 [N, 784] in [0, 1];
                                          outputs `probabilities` [N, 10], `classes` [N]
  <base>/<version>/tflite/labels.txt     the class names, one a line, label 0 first

TF Serving reads `saved_model.pb`, `variables/` and `assets*/` of a version and
nothing else; it would serve a TFLite file instead only with --prefer_tflite_model
and a `model.tflite` at the version's top level, which is why the file sits in a
subdirectory.
"""

import logging
import os
import time

from pipeline.data import files

_LOG = logging.getLogger(__name__)
PIXELS_SIGNATURE = "pixels:serving_default"
TFLITE_DIR = "tflite"
TFLITE_FILE = os.path.join(TFLITE_DIR, "model.tflite")
LABELS_FILE = os.path.join(TFLITE_DIR, "labels.txt")


def _converter(model):
  """A converter of the loaded model's `pixels` signature, with its input shape stated."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from trainer_module.features import PIXELS  # pylint: disable=import-outside-toplevel
  signature = model.signatures[PIXELS_SIGNATURE]

  # Re-traced in TF2 rather than converted from the v1 SavedModel directly, which
  # loses the batch shape through the empty-batch `tf.cond` of model_fn.
  @tf.function(input_signature=[tf.TensorSpec([None, PIXELS], tf.float32, name="pixels")])
  def pixels_fn(pixels):
    return signature(pixels=pixels)

  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [pixels_fn.get_concrete_function()], model)
  # TFLite's own kernels wherever they apply. Models exported before model_fn restated
  # the convolution input's shape need TensorFlow's Conv2D (the full TensorFlow
  # package's interpreter has it; a bare tflite-runtime does not).
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                         tf.lite.OpsSet.SELECT_TF_OPS]
  return converter


def write_tflite(saved_model_dir: str, version_dir: str) -> str:
  """Converts `saved_model_dir`'s `pixels` signature into `version_dir/tflite/`; returns the file.

  `version_dir` may be `saved_model_dir` itself or the copy being pushed. Both
  files are written atomically; the class names come from the model's own
  `classification` signature.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from pipeline.serving.predict import model_class_names  # pylint: disable=import-outside-toplevel
  started = time.monotonic()
  model = tf.saved_model.load(saved_model_dir)
  flatbuffer = _converter(model).convert()
  path = files.join(version_dir, TFLITE_FILE)
  if not files.is_remote(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
  files.write_atomically(path, flatbuffer)
  names = "".join(f"{name}\n" for name in model_class_names(model))
  files.write_atomically(files.join(version_dir, LABELS_FILE), names.encode("utf-8"))
  _LOG.info("wrote %s (%.1f MB) in %.1f s", path, len(flatbuffer) / 1e6,
            time.monotonic() - started)
  return path

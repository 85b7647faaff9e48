"""A TFLite conversion of a SavedModel's `pixels` signature, written inside a version dir.

As TFX's examples/mnist does, each pushed version also carries a TFLite model
(components/atomic_pusher.py writes it before the version appears):

  <base>/<version>/tflite/model.tflite   input `pixels` float32 [N, 784] in [0, 1];
                                          outputs `probabilities` [N, 10], `classes` [N]
  <base>/<version>/tflite/labels.txt     the class names, one a line, label 0 first

TF Serving reads `saved_model.pb`, `variables/` and `assets*/` of a version, nothing
else; it would serve a TFLite file instead only with --prefer_tflite_model and a
`model.tflite` at the version's top level, which is why the file sits in a subdirectory.
"""

import contextlib
import logging
import os
import sys
import tempfile
import time
from typing import Iterator, List, Optional, Tuple

import numpy as np

from pipeline.data import contract, files

_LOG = logging.getLogger(__name__)
PIXELS_SIGNATURE = "pixels:serving_default"
TFLITE_DIR = "tflite"
TFLITE_FILE = os.path.join(TFLITE_DIR, "model.tflite")
LABELS_FILE = os.path.join(TFLITE_DIR, "labels.txt")


def _converter(model):
  """A converter of the loaded model's `pixels` signature, its input shape stated."""
  import tensorflow as tf
  signature = model.signatures[PIXELS_SIGNATURE]

  # Re-traced in TF2: converting the v1 SavedModel's signature directly loses the
  # convolution input's rank at model_fn's empty-batch `tf.cond`.
  @tf.function(input_signature=[tf.TensorSpec([None, contract.PIXELS], tf.float32,
                                              name="pixels")])
  def pixels_fn(pixels):
    return signature(pixels=pixels)

  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [pixels_fn.get_concrete_function()], model)
  # TFLite's own kernels wherever they apply; TensorFlow's (Select TF ops, in the
  # full TensorFlow package's interpreter) only for what has none.
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                         tf.lite.OpsSet.SELECT_TF_OPS]
  return converter


@contextlib.contextmanager
def _quiet_conversion() -> Iterator[None]:
  """Keeps the converter's C++ and MLIR chatter off stderr, and absl's INFO lines on.

  The converter prints about 20 lines from C++ ("Summary on the non-converted ops",
  "% non-converted = 41.03 %", "arith.constant: 15 occurrences") straight to file
  descriptor 2, whatever TF_CPP_MIN_LOG_LEVEL says: they read like a failure and call
  for no action (the unconverted ops run as Select TF ops). So fd 2 goes to a temporary
  file meanwhile; that text is shown only if the conversion fails, or with --verbose
  (this module's DEBUG lines on), where nothing is redirected.

  TensorFlow's `AutoTrackable._trackable_children` also sets absl's verbosity to
  FATAL and "back" to its flag's default, leaving the `absl` logger at WARNING: every
  later absl INFO line is dropped, BeamDagRunner's "node Pusher is finished." among them,
  so the progress bar and the timing table lost the Pusher. Its level is restored here.
  """
  absl_logger = logging.getLogger("absl")
  absl_level = absl_logger.level
  if _LOG.isEnabledFor(logging.DEBUG):
    try:
      yield
    finally:
      absl_logger.setLevel(absl_level)
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as chatter:
    os.dup2(chatter.fileno(), 2)
    try:
      yield
    except BaseException:
      sys.stderr.flush()
      os.dup2(saved, 2)
      chatter.seek(max(0, os.fstat(chatter.fileno()).st_size - 65536))  # Its last 64 KB.
      os.write(2, chatter.read())
      raise
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      absl_logger.setLevel(absl_level)


def write_tflite(saved_model_dir: str, version_dir: str) -> str:
  """Converts `saved_model_dir`'s `pixels` signature into `version_dir/tflite/`; returns the file.

  `version_dir` may be `saved_model_dir` itself or the copy being pushed. Both
  files are written atomically; the class names come from the model's own
  `classification` signature.
  """
  import tensorflow as tf
  from trainer_module.serving import model_class_names
  started = time.monotonic()
  with _quiet_conversion():
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


def load_runner(path: str):
  """The `serving_default` runner of the TFLite file at `path`.

  Raises:
    ValueError: one line naming `path`, when it is not a TFLite model with that signature.
  """
  import tensorflow as tf
  try:
    return tf.lite.Interpreter(model_path=path).get_signature_runner()
  except (ValueError, RuntimeError, OSError) as e:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise ValueError(f"{path}: not a TFLite model with a serving_default signature "
                     f"({first}); give a pushed version's {TFLITE_FILE}") from None


def checked_pixels(pixels: np.ndarray) -> np.ndarray:
  """float32 [N, 784] in [0, 1], as the TFLite model (like the SavedModel's `pixels`
  signature) expects: uint8 images are scaled; floats must already be in range.

  The TFLite file itself checks nothing (NaN in, NaN out; pixels x255 still get a
  confident class), so its callers check here, as the SavedModel's graph does.

  Raises:
    ValueError: naming what is wrong with the input.
  """
  if pixels.ndim != 2 or pixels.shape[1] != contract.PIXELS:
    raise ValueError(f"pixels must be [N, {contract.PIXELS}], got shape {list(pixels.shape)}")
  if pixels.dtype == np.uint8:
    return pixels.astype(np.float32) / 255.0
  if not np.issubdtype(pixels.dtype, np.floating):
    raise ValueError(f"pixels must be uint8 or float in [0, 1], got {pixels.dtype}")
  if not np.all(np.isfinite(pixels)):
    raise ValueError("pixels must be finite; NaN or infinity found")
  if pixels.size and (pixels.min() < 0 or pixels.max() > 1):
    raise ValueError(f"pixels must be in [0, 1], got [{pixels.min():g}, {pixels.max():g}]: "
                     "divide 0-255 values by 255")
  return pixels.astype(np.float32)


def tflite_predict(path: str, pixels: np.ndarray, batch: int) -> Tuple[np.ndarray, np.ndarray]:
  """(probabilities [N, 10], classes [N]) of [N, 784] pixels (see `checked_pixels`) through
  a TFLite file."""
  pixels = checked_pixels(pixels)
  runner = load_runner(path)
  probabilities = [np.zeros((0, contract.NUM_CLASSES), np.float32)]
  classes = [np.zeros((0,), np.int64)]
  for start in range(0, len(pixels), batch):
    out = runner(pixels=pixels[start:start + batch])
    probabilities.append(out["probabilities"])
    classes.append(out["classes"].astype(np.int64))
  return np.concatenate(probabilities), np.concatenate(classes)


def tflite_class_names(path: str) -> Optional[List[str]]:
  """The names in `labels.txt` beside a TFLite file, or None when there is none."""
  labels = os.path.join(os.path.dirname(path), os.path.basename(LABELS_FILE))
  if not os.path.isfile(labels):
    return None
  with open(labels, encoding="utf-8") as f:
    return [line.rstrip("\n") for line in f if line.strip()]

"""`python -m pipeline predict`: classify images with a pushed model, as TF Serving would.

The SavedModel is queried through `serving_default` with serialized tf.Examples,
in batches of at most `trainer_module.export.MAX_BATCH`, exactly the requests a
TF Serving client sends (`trainer_module.serving`); `--tflite` runs the pushed
TFLite file instead (`trainer_module.tflite`).
"""

import os
from typing import List, Optional, Sequence

import numpy as np

from pipeline.data import contract
from pipeline.serving.images import InputError


def model_path(model_dir: Optional[str], tflite: Optional[str]) -> str:
  """The SavedModel version dir (newest under a base dir) or the TFLite file to query.

  Raises:
    ValueError: naming the flag and what to give.
  """
  from trainer_module.serving import resolve_version
  if tflite is None:
    return resolve_version(model_dir)
  if not os.path.isfile(tflite):
    raise InputError(f"--tflite {tflite} is not a file; give a pushed version's "
                     "tflite/model.tflite")
  return tflite


def read_labels(path: str, count: int) -> np.ndarray:
  """The first `count` labels of an IDX labels file, checked (pure numpy, before TF loads).

  Raises:
    InputError: the file holds fewer labels than there are images, or a label is not a class.
    IdxError: the file is not a valid IDX labels file, or ends before `count` labels.
  """
  from pipeline.data import idx
  if not os.path.isfile(path):
    raise InputError(f"--labels {path} does not exist; give the IDX labels file of the images")
  held = idx.record_count(path, idx.LABELS_MAGIC)
  if held < count:
    raise InputError(f"--labels {path} holds {held} labels for {count} images; give the labels "
                     "file that goes with INPUT")
  # Only the labels of the images read are decompressed, however many the header promises.
  labels = idx.read_first(path, idx.LABELS_MAGIC, count).astype(np.int64)
  if np.any(labels >= contract.NUM_CLASSES):
    raise InputError(f"--labels {path}: labels outside 0..{contract.NUM_CLASSES - 1}")
  return labels


def format_lines(image_names: Sequence[str], probabilities: np.ndarray, classes: np.ndarray,
                 names: Optional[Sequence[str]], labels: Optional[np.ndarray] = None,
                 ) -> List[str]:
  """One line per image (image, class name, its probability); with labels, the accuracy last.

  `names` are the model's class names (`class K` when unknown); digits show as `digit K`.
  """
  from trainer_module.serving import display_name

  def name(k: int) -> str:
    return display_name(names[k]) if names else f"class {k}"

  width = max((len(n) for n in image_names), default=0)
  class_width = max(len(name(k)) for k in range(contract.NUM_CLASSES))
  lines = []
  for i, (image, k) in enumerate(zip(image_names, classes)):
    line = f"{image:<{width}}  {name(int(k)):<{class_width}}  {probabilities[i, int(k)]:.4f}"
    if labels is not None:
      mark = "" if int(labels[i]) == int(k) else "  <- wrong"
      line += f"  (true: {name(int(labels[i]))}){mark}"
    lines.append(line)
  if labels is not None and len(classes):
    right = int(np.sum(labels[:len(classes)] == classes))
    lines.append(f"accuracy {right / len(classes):.4f} ({right}/{len(classes)} images)")
  return lines


def _load_saved_model(path: str):
  """The SavedModel at `path`; InputError naming it, in one line, when it cannot load."""
  import tensorflow as tf
  from google.protobuf.message import DecodeError
  try:
    return tf.saved_model.load(path)
  except (OSError, ValueError, RuntimeError, DecodeError, tf.errors.OpError) as e:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise InputError(f"{path}: not a loadable SavedModel ({first}); give a pushed version "
                     "directory, or its base directory for the newest") from None


def predict_lines(path: str, tflite: bool, image_names: Sequence[str], pixels: np.ndarray,
                  labels: Optional[np.ndarray] = None) -> List[str]:
  """Runs the SavedModel version (or TFLite file) at `path` on the images; the lines to print."""
  from trainer_module import serving
  from trainer_module import tflite as lite
  from trainer_module.export import MAX_BATCH
  if tflite:
    probabilities, classes = lite.tflite_predict(path, pixels, MAX_BATCH)
    names = lite.tflite_class_names(path)
  else:
    model = _load_saved_model(path)
    probabilities, classes = serving.saved_model_predict(model, pixels, MAX_BATCH)
    names = serving.model_class_names(model)
  return format_lines(image_names, probabilities, classes, names, labels)

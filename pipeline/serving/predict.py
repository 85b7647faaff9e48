"""`python -m pipeline predict`: classify images with a pushed model, as TF Serving would.

The SavedModel is queried through `serving_default` with serialized tf.Examples,
in batches of at most `trainer_module.export.MAX_BATCH`, exactly the requests a
TF Serving client sends; `--tflite` runs the pushed TFLite file instead.
"""

import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from pipeline.data import contract

# A TFLite file carries no class names; the pusher writes them beside it, one a line.
TFLITE_LABELS_FILE = "labels.txt"


def display_name(name: str) -> str:
  """The class name as shown to people: MNIST's bare digits read `digit 3`, not `3`."""
  return f"digit {name}" if name.isdigit() else name


def model_class_names(model) -> List[str]:
  """The class names a loaded SavedModel's `classification` signature answers with."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from pipeline.serving.client import serialize_examples  # pylint: disable=import-outside-toplevel
  blank = serialize_examples(np.zeros((1, contract.PIXELS), np.uint8))
  classes = model.signatures["classification"](inputs=tf.constant(blank))["classes"]
  return [name.decode() for name in classes.numpy()[0]]


def saved_model_predict(model, pixels: np.ndarray, batch: int) -> Tuple[np.ndarray, np.ndarray]:
  """(probabilities [N, 10], classes [N]) of uint8 [N, 784] through `serving_default`."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from pipeline.serving.client import serialize_examples  # pylint: disable=import-outside-toplevel
  signature = model.signatures["serving_default"]
  probabilities = [np.zeros((0, contract.NUM_CLASSES), np.float32)]
  classes = [np.zeros((0,), np.int64)]
  for start in range(0, len(pixels), batch):
    out = signature(examples=tf.constant(serialize_examples(pixels[start:start + batch])))
    probabilities.append(out["probabilities"].numpy())
    classes.append(out["classes"].numpy())
  return np.concatenate(probabilities), np.concatenate(classes)


def tflite_predict(path: str, pixels: np.ndarray, batch: int) -> Tuple[np.ndarray, np.ndarray]:
  """(probabilities, classes) of uint8 [N, 784] through a TFLite file of the `pixels` signature."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  runner = tf.lite.Interpreter(model_path=path).get_signature_runner()
  probabilities = [np.zeros((0, contract.NUM_CLASSES), np.float32)]
  classes = [np.zeros((0,), np.int64)]
  for start in range(0, len(pixels), batch):
    out = runner(pixels=pixels[start:start + batch].astype(np.float32) / 255.0)
    probabilities.append(out["probabilities"])
    classes.append(out["classes"].astype(np.int64))
  return np.concatenate(probabilities), np.concatenate(classes)


def tflite_class_names(path: str) -> Optional[List[str]]:
  """The names in `labels.txt` beside a TFLite file, or None when there is none."""
  labels = os.path.join(os.path.dirname(path), TFLITE_LABELS_FILE)
  if not os.path.isfile(labels):
    return None
  with open(labels, encoding="utf-8") as f:
    return [line.rstrip("\n") for line in f if line.strip()]


def format_lines(image_names: Sequence[str], probabilities: np.ndarray, classes: np.ndarray,
                 names: Optional[Sequence[str]], labels: Optional[np.ndarray] = None,
                 ) -> List[str]:
  """One line per image (image, class name, its probability); with labels, the accuracy last."""
  def name(k: int) -> str:
    return display_name(names[k]) if names else f"class {k}"
  width = max((len(n) for n in image_names), default=0)
  class_width = max((len(name(k)) for k in range(contract.NUM_CLASSES)), default=0)
  lines = []
  for i, (image, k) in enumerate(zip(image_names, classes)):
    line = f"{image:<{width}}  {name(int(k)):<{class_width}}  {probabilities[i, int(k)]:.4f}"
    if labels is not None:
      mark = "" if int(labels[i]) == int(k) else "   <- wrong"
      line += f"  (true: {name(int(labels[i]))}){mark}"
    lines.append(line.rstrip())
  if labels is not None and len(classes):
    right = int(np.sum(labels[:len(classes)] == classes))
    lines.append(f"accuracy {right / len(classes):.4f} ({right}/{len(classes)} images)")
  return lines


def model_path(model_dir: Optional[str], tflite: Optional[str]) -> str:
  """The SavedModel version dir (newest under a base dir) or the TFLite file to query.

  Raises:
    ValueError: naming the flag and what to give.
  """
  from pipeline.serving.versions import resolve_version  # pylint: disable=import-outside-toplevel
  if tflite is None:
    return resolve_version(model_dir)
  if not os.path.isfile(tflite):
    raise ValueError(f"--tflite {tflite} is not a file; give a pushed version's "
                     "tflite/model.tflite")
  return tflite


def read_labels(path: str, count: int) -> np.ndarray:
  """The first `count` labels of an IDX labels file, checked (pure numpy, before TF loads).

  Raises:
    InputError: the file holds fewer labels than there are images, or a label is not a class.
  """
  from pipeline.data import idx  # pylint: disable=import-outside-toplevel
  from pipeline.serving.images import InputError  # pylint: disable=import-outside-toplevel
  if not os.path.isfile(path):
    raise InputError(f"--labels {path} does not exist; give the IDX labels file of the images")
  held = idx.validate_labels(path)
  if held < count:
    raise InputError(f"--labels {path} holds {held} labels for {count} images; give the labels "
                     "file that goes with INPUT")
  labels = idx.read_labels(path, 0, count).astype(np.int64)
  if np.any(labels >= contract.NUM_CLASSES):
    raise InputError(f"--labels {path}: labels outside 0..{contract.NUM_CLASSES - 1}")
  return labels


def predict_lines(model_path: str, tflite: bool, image_names: Sequence[str], pixels: np.ndarray,
                  labels: Optional[np.ndarray] = None) -> List[str]:
  """Runs the SavedModel version (or TFLite file) on the images; returns the lines to print."""
  from trainer_module.export import MAX_BATCH  # pylint: disable=import-outside-toplevel
  if tflite:
    probabilities, classes = tflite_predict(model_path, pixels, MAX_BATCH)
    names = tflite_class_names(model_path)
  else:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    model = tf.saved_model.load(model_path)
    probabilities, classes = saved_model_predict(model, pixels, MAX_BATCH)
    names = model_class_names(model)
  return format_lines(image_names, probabilities, classes, names, labels)

"""The served model as a client sees it: which version TF Serving serves, the requests'
tf.Examples, the class names, and `serving_default` answers in batches.

Used by `python -m pipeline predict`, the TF Serving client, `trainer_module.score` and
the TFLite conversion. TensorFlow loads only inside the functions that need it, so a
wrong --model-dir fails before it does.
"""

import os
from typing import List, Tuple

import numpy as np

from pipeline.data import contract

SAVED_MODEL_FILE = "saved_model.pb"


class ModelDirError(ValueError):
  """A --model-dir holds no SavedModel version; the message says what to give."""


def resolve_version(model_dir: str, flag: str = "--model-dir") -> str:
  """`model_dir` if it is a SavedModel, else its newest numeric version that is one.

  TF Serving's layout is `<base>/<version>/saved_model.pb` with numeric
  versions; it serves the highest number, and so does this. Hidden partial
  pushes (`.partial-...`) and other names are not versions and are skipped.

  Raises:
    ModelDirError: naming `flag`, the path, and what to give instead.
  """
  if not os.path.isdir(model_dir):
    what = "is not a directory" if os.path.exists(model_dir) else "does not exist"
    raise ModelDirError(f"{flag} {model_dir} {what}; give a pushed version directory or "
                        "the serving base directory holding numbered versions")
  if os.path.isfile(os.path.join(model_dir, SAVED_MODEL_FILE)):
    return model_dir
  versions = sorted((name for name in os.listdir(model_dir) if name.isdigit()
                     and os.path.isfile(os.path.join(model_dir, name, SAVED_MODEL_FILE))),
                    key=int, reverse=True)
  if not versions:
    raise ModelDirError(f"{flag} {model_dir} holds neither {SAVED_MODEL_FILE} nor a numbered "
                        "version directory with one; give e.g. "
                        "output/serving_model/<pipeline>/<model> or one of its versions")
  return os.path.join(model_dir, versions[0])


def display_name(name: str) -> str:
  """A class name as shown to people: MNIST's bare digits read `digit 3`, not `3`."""
  return f"digit {name}" if name.isdigit() else name


def serialize_examples(pixels: np.ndarray) -> List[bytes]:
  """uint8 [N, 784] -> serialized tf.Examples holding `image_raw`, as the model parses them."""
  import tensorflow as tf
  return [tf.train.Example(features=tf.train.Features(feature={
      contract.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[np.ascontiguousarray(row, np.uint8).tobytes()]))})).SerializeToString()
          for row in pixels]


def model_class_names(model) -> List[str]:
  """The class names a loaded SavedModel's `classification` signature answers with."""
  import tensorflow as tf
  blank = serialize_examples(np.zeros((1, contract.PIXELS), np.uint8))
  classes = model.signatures["classification"](inputs=tf.constant(blank))["classes"]
  return [name.decode() for name in classes.numpy()[0]]


def saved_model_predict(model, pixels: np.ndarray, batch: int) -> Tuple[np.ndarray, np.ndarray]:
  """(probabilities [N, 10], classes [N]) of uint8 [N, 784] through `serving_default`,
  as serialized tf.Examples, at most `batch` per call (the model refuses more than
  export.MAX_BATCH)."""
  import tensorflow as tf
  signature = model.signatures["serving_default"]
  probabilities = [np.zeros((0, contract.NUM_CLASSES), np.float32)]
  classes = [np.zeros((0,), np.int64)]
  for start in range(0, len(pixels), batch):
    out = signature(examples=tf.constant(serialize_examples(pixels[start:start + batch])))
    probabilities.append(out["probabilities"].numpy())
    classes.append(out["classes"].numpy())
  return np.concatenate(probabilities), np.concatenate(classes)

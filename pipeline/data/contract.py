"""The data contract: feature keys, image shape, classes, splits and IDX file names.

Every producer (ExampleGen, prepare-data) and consumer (trainer, Evaluator,
reports, tests) of the examples reads these names from here. Importing this
module costs nothing: no TensorFlow, no Beam.
"""

from typing import Dict, Optional, Tuple

IMAGE_KEY = "image_raw"  # bytes: ROWS * COLS uint8 pixels, row-major.
LABEL_KEY = "label"  # int64 in 0 .. NUM_CLASSES - 1.
ROWS = COLS = 28
PIXELS = ROWS * COLS
NUM_CLASSES = 10
# The serving signature's input: a batch of serialized tf.Example (trainer_module/export.py).
EXAMPLES_INPUT = "examples"

# The published file sets; the publishers call the test set `t10k`.
IDX_SETS: Tuple[str, ...] = ("train", "test")
IDX_PREFIX: Dict[str, str] = {"train": "train", "test": "t10k"}
# Output splits, in order, and the file set each is drawn from. `validation` is
# carved from the published training set (examples.in_validation), so settings
# and early stopping are chosen without looking at the test set, which only
# scores the final model.
SPLITS: Tuple[str, ...] = ("train", "validation", "test")
SPLIT_SOURCE: Dict[str, str] = {"train": "train", "validation": "train", "test": "test"}
# One published training example in VALIDATION_BUCKETS goes to validation (5,000 of 60,000).
VALIDATION_BUCKETS = 12
IDX_KINDS: Tuple[str, ...] = ("images", "labels")
_IDX_SUFFIX = {"images": "idx3-ubyte", "labels": "idx1-ubyte"}

DIGITS: Tuple[str, ...] = tuple(str(k) for k in range(NUM_CLASSES))
CLASS_NAMES: Dict[str, Tuple[str, ...]] = {
    "mnist": DIGITS,
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}


def idx_file_name(idx_set: str, kind: str) -> str:
  """The published raw file name, e.g. ('test', 'labels') -> `t10k-labels-idx1-ubyte`."""
  return f"{IDX_PREFIX[idx_set]}-{kind}-{_IDX_SUFFIX[kind]}"


def idx_glob(idx_set: str) -> str:
  """The glob matching a file set's two IDX files, raw or `.gz`, e.g. `t10k-*-ubyte*`."""
  return f"{IDX_PREFIX[idx_set]}-*-ubyte*"


def split_glob(split: str) -> str:
  """The glob of the IDX files an output split is drawn from (`SPLIT_SOURCE`)."""
  return idx_glob(SPLIT_SOURCE[split])


def all_idx_files() -> Tuple[str, ...]:
  """The four raw IDX file names, train images first."""
  return tuple(idx_file_name(idx_set, kind) for idx_set in IDX_SETS for kind in IDX_KINDS)


def class_names(dataset: Optional[str]) -> Tuple[str, ...]:
  """Names of labels 0..9 for `dataset`; the digits when the dataset is unknown (None).

  These are the serving signature's class names; people read display_class_names.
  """
  return CLASS_NAMES[dataset] if dataset else DIGITS


def display_class_names(dataset: Optional[str]) -> Tuple[str, ...]:
  """Names of labels 0..9 for people: `digit 0` ... for MNIST, where a bare `0` beside the
  label index or an accuracy reads as a number; the dataset's own names otherwise."""
  names = class_names(dataset)
  return tuple(f"digit {name}" if name.isdigit() else name for name in names)

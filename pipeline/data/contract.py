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

# Output splits, in order. The publishers call the test split `t10k`.
SPLITS: Tuple[str, ...] = ("train", "eval")
IDX_PREFIX: Dict[str, str] = {"train": "train", "eval": "t10k"}
IDX_KINDS: Tuple[str, ...] = ("images", "labels")
_IDX_SUFFIX = {"images": "idx3-ubyte", "labels": "idx1-ubyte"}

DIGITS: Tuple[str, ...] = tuple(str(k) for k in range(NUM_CLASSES))
CLASS_NAMES: Dict[str, Tuple[str, ...]] = {
    "mnist": DIGITS,
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}


def idx_file_name(split: str, kind: str) -> str:
  """The published raw file name, e.g. ('eval', 'labels') -> `t10k-labels-idx1-ubyte`."""
  return f"{IDX_PREFIX[split]}-{kind}-{_IDX_SUFFIX[kind]}"


def idx_split_glob(split: str) -> str:
  """The glob matching a split's two IDX files, raw or `.gz`, e.g. `t10k-*-ubyte*`."""
  return f"{IDX_PREFIX[split]}-*-ubyte*"


def all_idx_files() -> Tuple[str, ...]:
  """The four raw IDX file names, train images first."""
  return tuple(idx_file_name(split, kind) for split in SPLITS for kind in IDX_KINDS)


def class_names(dataset: Optional[str]) -> Tuple[str, ...]:
  """Names of labels 0..9 for `dataset`; the digits when the dataset is unknown (None)."""
  return CLASS_NAMES[dataset] if dataset else DIGITS

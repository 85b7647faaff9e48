"""Shared fixtures: tiny, generated MNIST-shaped IDX datasets."""

import os
import zlib
from typing import Dict, Optional, Tuple

import numpy as np
import pytest

from pipeline.data import contract, idx

# In-process Beam: the multi-processing default would spend seconds starting workers.
BEAM_TEST_ARGS = ["--runner=DirectRunner", "--direct_num_workers=1"]


def pytest_collection_modifyitems(items):
  """`slow` tests first, in their usual order: `make test`'s two processes each take the next
  test when free, so the short ones fill in at the end instead of a long one running alone."""
  items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def idx_name(role: str) -> str:
  """The raw IDX file name of a role such as `test_labels`."""
  split, kind = role.split("_")
  return contract.idx_file_name(split, kind)


def separable_images(labels: np.ndarray, seed: int = 0) -> np.ndarray:
  """28x28 uint8 images where class k is a bright 7x7 block at a k-specific place, plus noise."""
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
  for i, label in enumerate(labels):
    r, c = divmod(int(label), 4)
    images[i, 7 * r:7 * r + 7, 7 * c:7 * c + 7] = 255
  return images


def stripe_images(labels: np.ndarray, seed: int = 0) -> np.ndarray:
  """Like `separable_images`, but class k is a bright horizontal band (rows 4+2k, 5+2k):
  unchanged by left-right mirroring, so it stays separable under flip augmentation."""
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
  for i, label in enumerate(labels):
    images[i, 4 + 2 * int(label):6 + 2 * int(label), 4:24] = 255
  return images


def write_dataset(directory: str, n_train: int = 40, n_eval: int = 20, gz: bool = False,
                  seed: int = 0, eval_label: Optional[int] = None,
                  image_size: int = 28, stripes: bool = False) -> Tuple[np.ndarray, np.ndarray]:
  """Writes the four IDX files of a tiny separable dataset; returns (train, test) labels.

  `eval_label` plants that (possibly invalid) label in the test set; `stripes`
  draws `stripe_images` instead of `separable_images`;
  `image_size` other than 28 writes wrongly sized train images.
  """
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  out = []
  for split, n in (("train", n_train), ("test", n_eval)):
    labels = (np.arange(n) % contract.NUM_CLASSES).astype(np.uint8)
    rng.shuffle(labels)
    suffix = ".gz" if gz else ""
    images = (stripe_images if stripes else separable_images)(labels, seed)
    if split == "test" and eval_label is not None:
      labels[n // 2] = eval_label
    if split == "train" and image_size != 28:
      images = np.zeros((n, image_size, image_size), np.uint8)
    for kind, array in (("images", images), ("labels", labels)):
      path = os.path.join(directory, contract.idx_file_name(split, kind) + suffix)
      idx.write_idx(path, array, gz=gz)
    out.append(labels)
  return out[0], out[1]


def expected_split_counts(directory: str) -> Dict[str, int]:
  """Examples per split of an IDX directory, carved independently of the code under test:
  a training image is in validation iff the CRC-32 of its pixels is 0 mod 12."""
  train_pair, test_pair = idx.validate_dir(directory)
  train = np.concatenate([images for images, _ in idx.stream_records(train_pair, 5000)])
  validation = sum(zlib.crc32(image.tobytes()) % 12 == 0 for image in train)
  return {"train": len(train) - validation, "validation": validation, "test": test_pair.count}


@pytest.fixture
def idx_dir(tmp_path):
  """A directory with a tiny raw IDX dataset (40 train, 20 test)."""
  directory = str(tmp_path / "idx")
  write_dataset(directory)
  return directory


@pytest.fixture(scope="session")
def tiny_tfrecords(tmp_path_factory):
  """prepare-data output for a separable dataset: 400 published train, 100 test examples."""
  from pipeline.data.prepare import prepare_data
  root = tmp_path_factory.mktemp("tiny")
  write_dataset(str(root / "idx"), n_train=400, n_eval=100, seed=3)
  prepare_data(str(root / "idx"), str(root / "tfr"), BEAM_TEST_ARGS)
  return str(root / "tfr")


def saved_model_accuracy(export_dir: str, tfrecord_dir: str, split: str = "test") -> float:
  """Accuracy of a SavedModel's serving_default over a prepare-data split."""
  import glob
  import tensorflow as tf
  from trainer_module.features import FEATURE_SPEC
  files = glob.glob(os.path.join(tfrecord_dir, f"Split-{split}", "*.gz"))
  serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  labels = tf.io.parse_example(serialized, FEATURE_SPEC)["label"].numpy()
  classes = tf.saved_model.load(export_dir).signatures["serving_default"](
      examples=tf.constant(serialized))["classes"].numpy()
  return float(np.mean(classes == labels))


@pytest.fixture(scope="session")
def served_model(tiny_tfrecords, tmp_path_factory):
  """(base dir, version dir) of a real SavedModel, as the Pusher lays it out: a
  fashion_mnist-named `cnn_tf_layers` model, 60 steps on the tiny separable dataset."""
  from trainer_module.hparams import HParams
  from trainer_module.inputs import split_files
  from trainer_module.trainer import train_and_export
  root = tmp_path_factory.mktemp("served")
  base = str(root / "serving_model")
  version = os.path.join(base, "1700000000")
  hparams = HParams(train_steps=60, model="cnn_tf_layers", eval_steps=2, batch_size=20,
                    dataset="fashion_mnist", checkpoints=1)
  train_and_export(hparams, split_files(tiny_tfrecords, "train"),
                   split_files(tiny_tfrecords, "validation"), model_dir=str(root / "job"),
                   export_dir=version)
  return base, version

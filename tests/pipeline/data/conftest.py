"""Fixtures of the data-layer tests: a tiny dataset's spec, HTTP servers on 127.0.0.1."""

import functools
import http.server
import threading
from typing import Dict, Optional

import pytest

from tests.support.hostile_archives import tiny_spec


@pytest.fixture
def spec(idx_dir):
  """A dataset spec whose checksums and sizes are those of the tiny fixture files."""
  return tiny_spec(idx_dir)


class _Handler(http.server.SimpleHTTPRequestHandler):
  """Serves a directory; paths in `redirects` answer 302 to their target instead."""

  redirects: Dict[str, str] = {}

  def do_GET(self):
    if self.path in self.redirects:
      self.send_response(302)
      self.send_header("Location", self.redirects[self.path])
      self.send_header("Content-Length", "0")
      self.end_headers()
      return
    super().do_GET()

  def log_message(self, *args):
    pass


@pytest.fixture
def serve():
  """Starts HTTP servers on 127.0.0.1 for directories; stops them afterwards.

  `start(directory, redirects)` returns the server's base URL; `redirects` maps
  request paths (`/x.gz`) to the URL a 302 points to.
  """
  servers = []

  def start(directory: str, redirects: Optional[Dict[str, str]] = None) -> str:
    handler = type("Handler", (_Handler,), {"redirects": dict(redirects or {})})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return f"http://127.0.0.1:{server.server_address[1]}/"
  yield start
  for server in servers:
    server.shutdown()
    server.server_close()

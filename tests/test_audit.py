"""scripts/audit.py: `make audit` runs pip-audit only where its database answers, and says so
in one line where it does not. The databases here are real HTTP servers on 127.0.0.1."""

import http.server
import importlib.util
import os
import threading

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("audit", os.path.join(REPO, "scripts", "audit.py"))
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


@pytest.fixture
def server():
  """A server answering GET and POST with (status, body) set per test."""
  reply = {"status": 200, "body": b"{}"}

  class Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
      length = int(self.headers.get("Content-Length") or 0)
      self.rfile.read(length)
      self.send_response(reply["status"])
      self.send_header("Content-Length", str(len(reply["body"])))
      self.end_headers()
      self.wfile.write(reply["body"])

    do_GET = do_POST = _answer

    def log_message(self, *args):
      pass

  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  yield reply, f"http://127.0.0.1:{httpd.server_address[1]}"
  httpd.shutdown()
  httpd.server_close()


def test_a_database_that_answers_json_is_reachable_for_both_services(server):
  reply, url = server
  probes = {"pypi": (f"{url}/pypi/pip/26.3/json", None), "osv": (f"{url}/v1/query", {"q": 1})}
  assert audit.unreachable("pypi", probes=probes) is None
  reply["body"] = b'{"vulns": []}'
  assert audit.unreachable("osv", probes=probes) is None


def test_a_404_a_non_json_answer_or_no_server_is_unreachable(server):
  reply, url = server
  probes = {"pypi": (f"{url}/pypi/pip/26.3/json", None)}
  reply.update(status=404, body=b"not found")  # what PyPI's JSON API answers here
  assert audit.unreachable("pypi", probes=probes) == f"{url}/pypi/pip/26.3/json answered HTTP 404"
  reply.update(status=200, body=b"<html>proxy login</html>")
  assert audit.unreachable("pypi", probes=probes).startswith(f"{url}/pypi/pip/26.3/json: ")
  closed = {"pypi": ("http://127.0.0.1:9/x", None)}
  assert "refused" in audit.unreachable("pypi", timeout_s=5, probes=closed).lower()


def test_pip_audit_audits_the_lock_as_locked():
  argv = audit.pip_audit_argv("requirements.lock", "osv")
  assert argv[1:5] == ["-m", "pip_audit", "-r", "requirements.lock"]
  assert {"--require-hashes", "--no-deps", "--disable-pip"} <= set(argv)

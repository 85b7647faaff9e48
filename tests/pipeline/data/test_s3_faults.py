"""S3 faults before a run starts: one line naming the bucket or endpoint, in seconds, exit 1."""

import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from pipeline.data.s3 import CLIENT_LIMITS, S3Error, check_bucket, endpoint_env
from tests.support.moto_s3 import BUCKET, s3_server


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class _Refusing(http.server.BaseHTTPRequestHandler):
  """What S3 answers a wrong secret: 403 SignatureDoesNotMatch."""

  def do_HEAD(self):  # noqa: N802 (http.server's name)
    self.send_response(403)
    self.send_header("x-amz-error-code", "SignatureDoesNotMatch")
    self.end_headers()

  def log_message(self, *args):
    pass


def test_an_existing_bucket_passes_and_a_missing_one_is_named():
  with s3_server() as env:
    check_bucket(f"s3://{BUCKET}/out", env)
    with pytest.raises(S3Error, match=r"^s3://nope at http://127.0.0.1:\d+: the bucket does "
                                      r"not exist; create it, or check the name$"):
      check_bucket("s3://nope/out", env)


def test_refused_credentials_are_named():
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    env = {**endpoint_env(f"http://127.0.0.1:{server.server_port}"),
           "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "wrong"}
    with pytest.raises(S3Error, match="access denied .*check AWS_ACCESS_KEY_ID"):
      check_bucket("s3://b/x", env)
  finally:
    server.shutdown()


def test_an_endpoint_that_does_not_answer_is_one_line_in_seconds():
  env = {**endpoint_env(f"http://127.0.0.1:{_free_port()}"), "AWS_ACCESS_KEY_ID": "k",
         "AWS_SECRET_ACCESS_KEY": "s"}
  started = time.monotonic()
  with pytest.raises(S3Error, match="the endpoint does not answer"):
    check_bucket("s3://b/x", env)
  assert time.monotonic() - started < 30


def test_the_clients_are_bounded_in_every_pod_and_run():
  env = endpoint_env("http://minio:9000")
  assert {k: env[k] for k in CLIENT_LIMITS} == CLIENT_LIMITS


def test_run_to_a_missing_bucket_is_one_line_before_tensorflow_loads(tmp_path):
  with s3_server() as env:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--dataset", "mnist", "--data-dir",
         str(tmp_path), "--output-root", "s3://no-such-bucket/out", "--state-dir",
         str(tmp_path / "state")], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env}, check=False)
  assert proc.returncode == 1
  [line] = proc.stderr.splitlines()
  assert line.startswith("error: s3://no-such-bucket at http://127.0.0.1:")
  assert line.endswith(": the bucket does not exist; create it, or check the name")

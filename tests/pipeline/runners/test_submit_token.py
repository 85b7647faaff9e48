"""`submit`'s bearer token, handled like an ssh key: a private file, never sent in clear to
another machine unless asked, and in no output of a run, with `-v` or on failure."""

import http.server
import os
import subprocess
import sys
import threading

import pytest

from pipeline import cli
from tests.pipeline.runners.test_submit import KUBEFLOW_FILE, REPO, _PipelinesApi, _ready
from tests.support.fake_kfp2 import FakeKfp2

TOKEN = "eyJhbGciOiJSUzI1NiJ9.team-a-secret.c2lnbmF0dXJl"


def _token_file(tmp_path, token: str = TOKEN, mode: int = 0o600) -> str:
  path = tmp_path / "token"
  path.write_text(token + "\n")
  path.chmod(mode)
  return str(path)


def _kfp2_file(tmp_path) -> str:
  path = tmp_path / "pipeline.yaml"
  with open(os.path.join(REPO, "pipeline.yaml")) as f:
    path.write_text(f.read().replace("YOUR_BUCKET", "team-bucket").replace(
        "mnist-tfx:0.1.0", "registry.example/mnist-tfx:1"))
  return str(path)


def _submit(*args: str) -> subprocess.CompletedProcess:
  """`python -m pipeline submit -v ...` in a process of its own: all it prints, logs included."""
  return subprocess.run([sys.executable, "-m", "pipeline", "submit", "-v", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=120)


def test_a_kfp2_run_sends_the_token_and_prints_it_nowhere(tmp_path):
  with FakeKfp2(token=TOKEN) as api:
    api.script_run([("SUCCEEDED", {"train": "SUCCEEDED"})])
    proc = _submit("--target", "kubeflow-v2", "--host", api.host, "--namespace", "team-a",
                   "--token-file", _token_file(tmp_path), "--file", _kfp2_file(tmp_path),
                   "--wait", "--poll-seconds", "0.01")
  assert proc.returncode == 0, proc.stderr
  assert {r.headers.get("authorization") for r in api.requests} == {f"Bearer {TOKEN}"}
  assert "submitting" in proc.stderr  # The -v log lines are there; the token is not.
  assert "team-a-secret" not in proc.stdout + proc.stderr


def test_a_refused_token_is_printed_nowhere_either(tmp_path):
  with FakeKfp2(token="eyJ.the-right-one") as api:
    proc = _submit("--target", "kubeflow-v2", "--host", api.host, "--namespace", "team-a",
                   "--token-file", _token_file(tmp_path), "--file", _kfp2_file(tmp_path))
  assert proc.returncode == 1
  assert "HTTP 401" in proc.stderr.splitlines()[-1]
  assert "team-a-secret" not in proc.stdout + proc.stderr


def test_a_kfp1_run_sends_the_token_and_prints_it_nowhere(tmp_path):
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PipelinesApi)
  server.requests = []
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    proc = _submit("--target", "kubeflow", "--host", f"http://localhost:{server.server_port}",
                   "--namespace", "team-a", "--token-file", _token_file(tmp_path),
                   "--file", _ready(tmp_path, KUBEFLOW_FILE))
  finally:
    server.shutdown()
    server.server_close()
  assert proc.returncode == 0, proc.stderr
  assert {headers.get("authorization") for *_, headers in server.requests} == {
      f"Bearer {TOKEN}"}
  assert "team-a-secret" not in proc.stdout + proc.stderr


def _cli_error(capsys, *args: str) -> str:
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["submit", *args])
  assert exit_info.value.code == 1
  out, err = capsys.readouterr()
  assert "team-a-secret" not in out + err
  [line] = [line for line in err.splitlines() if " INFO " not in line]
  return line


@pytest.mark.parametrize("target", ["kubeflow", "kubeflow-v2"])
def test_a_token_file_others_can_read_is_refused_in_one_line(tmp_path, capsys, target):
  token = _token_file(tmp_path, mode=0o644)
  path = _kfp2_file(tmp_path) if target == "kubeflow-v2" else _ready(tmp_path, KUBEFLOW_FILE)
  assert _cli_error(capsys, "--target", target, "--host", "http://127.0.0.1:9", "--file", path,
                    "--token-file", token) == (
      f"error: --token-file {token} is open to group or others (mode 0644); a token is a "
      f"password: chmod 600 {token}")


@pytest.mark.parametrize("target", ["kubeflow", "kubeflow-v2"])
def test_plain_http_to_another_machine_is_refused_before_any_call(tmp_path, capsys, target):
  path = _kfp2_file(tmp_path) if target == "kubeflow-v2" else _ready(tmp_path, KUBEFLOW_FILE)
  host = "http://192.0.2.1:9"  # TEST-NET-1 (RFC 5737): routed nowhere.
  assert _cli_error(capsys, "--target", target, "--host", host, "--file", path,
                    "--token-file", _token_file(tmp_path)) == (
      f"error: --host {host}: the bearer token would travel unencrypted over http:// to "
      "another machine; use https://, a port-forward to http://127.0.0.1:PORT, or "
      "--allow-insecure-http on a network you trust")


def test_allow_insecure_http_lets_the_token_go_to_another_machine(tmp_path, capsys):
  host = "http://192.0.2.1:9"
  line = _cli_error(capsys, "--target", "kubeflow-v2", "--host", host, "--allow-insecure-http",
                    "--request-timeout", "1", "--file", _kfp2_file(tmp_path),
                    "--token-file", _token_file(tmp_path))
  # Past the check: the call itself was tried, and failed as nothing answers there.
  assert line.startswith((f"error: cannot reach Kubeflow Pipelines at {host}: ",
                          f"error: Kubeflow Pipelines at {host} did not answer GET ")), line

"""`submit`: parameters checked against the compiled files, one-line errors, and a run
submitted through the real kfp 1.8 client to an HTTP server on 127.0.0.1."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml

from pipeline.checks import UsageError
from pipeline.config import ACCURACY_THRESHOLDS
from pipeline.runners import submit
from trainer_module.defaults import TRAINING_DEFAULTS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VERTEX_FILE = os.path.join(REPO, "pipeline.yaml")
KUBEFLOW_FILE = os.path.join(REPO, "pipeline-kubeflow-v1.yaml")
# The committed files are compiled with `make compile`: Fashion-MNIST's defaults.
STEPS = TRAINING_DEFAULTS["fashion_mnist"].train_steps
THRESHOLD = ACCURACY_THRESHOLDS["fashion_mnist"]


def _declared(path):
  return submit.declared_parameters(submit.load_compiled(path))


def _closed_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _cli(*args, env=None):
  start = time.monotonic()
  proc = subprocess.run([sys.executable, "-m", "pipeline", "submit", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=60,
                        env={**os.environ, **(env or {})})
  return proc, time.monotonic() - start


@pytest.mark.parametrize("path", [VERTEX_FILE, KUBEFLOW_FILE])
def test_both_files_declare_typed_parameters_with_defaults(path):
  declared = _declared(path)
  assert declared["train_steps"] == (int, STEPS)
  assert declared["accuracy_threshold"] == (float, THRESHOLD)
  assert declared["data_dir"] == (str, "gs://YOUR_BUCKET/mnist-tfx/idx/fashion_mnist")


def test_params_override_defaults_and_are_typed():
  values = submit.parameter_values(_declared(VERTEX_FILE), ["train_steps=5000",
                                                            "data_dir=gs://b/idx"])
  assert values == {"train_steps": 5000, "accuracy_threshold": THRESHOLD,
                    "data_dir": "gs://b/idx"}


@pytest.mark.parametrize("param, message", [
    ("epochs=3", "--param epochs: unknown parameter; this pipeline takes accuracy_threshold, "
                 "data_dir, train_steps"),
    ("train_steps=lots", "--param train_steps=lots: expected int"),
    ("train_steps", "--param 'train_steps': write it as name=value"),
])
def test_bad_params_are_refused_by_name(param, message):
  with pytest.raises(UsageError, match="^" + __import__("re").escape(message) + "$"):
    submit.parameter_values(_declared(VERTEX_FILE), [param])


def test_unknown_param_is_one_line_before_any_network_call():
  proc, seconds = _cli("--target", "kubeflow", "--host", "http://127.0.0.1:9",
                       "--param", "epochs=3")
  assert proc.returncode == 1 and seconds < 15
  assert proc.stderr.strip().splitlines() == [
      "error: --param epochs: unknown parameter; this pipeline takes accuracy_threshold, "
      "data_dir, pipeline-root, train_steps"]


def test_closed_port_is_one_line_within_seconds():
  port = _closed_port()
  proc, seconds = _cli("--target", "kubeflow", "--host", f"http://127.0.0.1:{port}")
  assert proc.returncode == 1 and seconds < 15
  errors = [line for line in proc.stderr.splitlines() if "INFO" not in line]
  assert errors == [f"error: cannot reach Kubeflow Pipelines at http://127.0.0.1:{port}: "
                    "[Errno 111] Connection refused; check --host (for a cluster: kubectl "
                    "port-forward -n kubeflow svc/ml-pipeline-ui 8080:80, then --host "
                    "http://127.0.0.1:8080)"]
  assert "Traceback" not in proc.stderr


def test_missing_google_credentials_is_one_line():
  proc, seconds = _cli("--target", "vertex", "--project", "p",
                       env={"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"})
  assert proc.returncode == 1 and seconds < 30
  assert proc.stderr.strip().splitlines()[-1].startswith(
      "error: no Google Cloud credentials: run `gcloud auth application-default login`")
  assert "Traceback" not in proc.stderr


def test_a_file_for_the_other_target_is_refused():
  with pytest.raises(UsageError, match="is a KFP v2 spec \\(--target vertex\\), not one for "
                                       "--target kubeflow"):
    submit.submit("kubeflow", VERTEX_FILE, [], host="http://127.0.0.1:9", experiment="e")


class _PipelinesApi(http.server.BaseHTTPRequestHandler):
  """The few Kubeflow Pipelines v1beta1 endpoints the kfp 1.8 client calls to start a run."""
  requests = []

  def _reply(self, body):
    data = json.dumps(body).encode()
    self.send_response(200)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def do_GET(self):  # pylint: disable=invalid-name
    self.requests.append(("GET", self.path, None))
    self._reply({"multi_user": False} if "healthz" in self.path else {})

  def do_POST(self):  # pylint: disable=invalid-name
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    self.requests.append(("POST", self.path, body))
    if self.path.endswith("/experiments"):
      self._reply({"id": "exp-1", "name": body["name"]})
    else:
      self._reply({"run": {"id": "run-42", "name": body["name"]}})

  def log_message(self, *args):
    pass


def test_kubeflow_run_carries_the_workflow_and_every_parameter():
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PipelinesApi)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  host = f"http://127.0.0.1:{server.server_address[1]}"
  try:
    url = submit.submit("kubeflow", KUBEFLOW_FILE, ["train_steps=77"], host=host,
                        experiment="nightly")
  finally:
    server.shutdown()
  assert url == f"{host}/#/runs/details/run-42"
  posts = {path: body for method, path, body in _PipelinesApi.requests if method == "POST"}
  assert posts["/apis/v1beta1/experiments"]["name"] == "nightly"
  run = posts["/apis/v1beta1/runs"]
  assert run["resource_references"][0]["key"] == {"type": "EXPERIMENT", "id": "exp-1"}
  params = {p["name"]: p["value"] for p in run["pipeline_spec"]["parameters"]}
  assert params == {"train_steps": "77", "accuracy_threshold": str(THRESHOLD),
                    "data_dir": "gs://YOUR_BUCKET/mnist-tfx/idx/fashion_mnist",
                    "pipeline-root": "gs://YOUR_BUCKET/mnist-tfx/pipelines/mnist-tfx-fashion-mnist"}
  with open(KUBEFLOW_FILE) as f:
    assert yaml.safe_load(run["pipeline_spec"]["workflow_manifest"]) == yaml.safe_load(f)

"""`submit`: parameters checked against the compiled files, one-line errors, and a run
submitted through the real kfp 1.8 client to an HTTP server on 127.0.0.1."""

import http.server
import json
import os
import re
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
from pipeline.runners.run_options import RunOptions

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VERTEX_FILE = os.path.join(REPO, "pipeline.yaml")
KUBEFLOW_FILE = os.path.join(REPO, "pipeline-kubeflow-v1.yaml")
REGISTRY_IMAGE = "europe-docker.pkg.dev/team/ml/mnist-tfx:0.1.0"
# The committed files are compiled with `make compile`: Fashion-MNIST's defaults.
STEPS = TRAINING_DEFAULTS["fashion_mnist"].train_steps
THRESHOLD = ACCURACY_THRESHOLDS["fashion_mnist"]
SERVING_DIR = "gs://YOUR_BUCKET/mnist-tfx/serving_model/mnist-tfx-fashion-mnist/cnn"
TEAM_SERVING_DIR = SERVING_DIR.replace("YOUR_BUCKET", "team-bucket")


def _declared(path):
  return submit.declared_parameters(submit.load_compiled(path))


def _closed_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _ready(tmp_path, path: str) -> str:
  """A copy of a committed file as a team's compile writes it: a bucket and a registry."""
  with open(path) as f:
    text = f.read().replace("YOUR_BUCKET", "team-bucket").replace(
        "mnist-tfx:0.1.0", REGISTRY_IMAGE)
  ready = tmp_path / os.path.basename(path)
  ready.write_text(text)
  return str(ready)


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
                    "data_dir": "gs://b/idx", "serving_dir": SERVING_DIR}


@pytest.mark.parametrize("param, message", [
    ("epochs=3", "--param epochs: unknown parameter; this pipeline takes accuracy_threshold, "
                 "data_dir, serving_dir, train_steps"),
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
      "data_dir, pipeline-root, serving_dir, train_steps"]


@pytest.mark.parametrize("target, path", [("kubeflow", KUBEFLOW_FILE), ("vertex", VERTEX_FILE)])
def test_placeholders_are_refused_in_one_line_before_any_network_call(tmp_path, target, path):
  port = _closed_port()
  where = ["--host", f"http://127.0.0.1:{port}"] if target == "kubeflow" else ["--project", "p"]
  proc, _ = _cli("--target", target, "--file", path, *where,
                 env={"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"})
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines() == [
      f"error: --file {path} still names gs://YOUR_BUCKET: recompile with "
      "`python -m pipeline compile --image REGISTRY/mnist-tfx:TAG --output-root "
      "gs://BUCKET/mnist-tfx` (or, for --target kubeflow, --pvc CLAIM or --output-root "
      "s3://…)"]
  bucket_only = tmp_path / "bucket-only.yaml"
  with open(path) as f:
    bucket_only.write_text(f.read().replace("YOUR_BUCKET", "team-bucket"))
  proc, _ = _cli("--target", target, "--file", str(bucket_only), *where,
                 env={"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"})
  assert proc.returncode == 1
  [line] = proc.stderr.strip().splitlines()
  assert line.startswith(f"error: --file {bucket_only} uses the image mnist-tfx:0.1.0, which "
                         "names no registry, so no cluster can pull it: push it")


def test_closed_port_is_one_line_within_seconds(tmp_path):
  port = _closed_port()
  proc, seconds = _cli("--target", "kubeflow", "--host", f"http://127.0.0.1:{port}",
                       "--file", _ready(tmp_path, KUBEFLOW_FILE))
  assert proc.returncode == 1 and seconds < 15
  errors = [line for line in proc.stderr.splitlines() if "INFO" not in line]
  assert errors == [f"error: cannot reach Kubeflow Pipelines at http://127.0.0.1:{port}: "
                    "[Errno 111] Connection refused; check --host (for a cluster: kubectl "
                    "port-forward -n kubeflow svc/ml-pipeline-ui 8080:80, then --host "
                    "http://127.0.0.1:8080)"]
  assert "Traceback" not in proc.stderr


def test_missing_google_credentials_is_one_line(tmp_path):
  proc, seconds = _cli("--target", "vertex", "--project", "p",
                       "--file", _ready(tmp_path, VERTEX_FILE),
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
  """The few Kubeflow Pipelines v1beta1 endpoints the kfp 1.8 client calls to start a run.

  Records each request as (method, path, body, headers) on the server.
  """

  def _reply(self, body):
    data = json.dumps(body).encode()
    self.send_response(200)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def _record(self, body):
    headers = {name.lower(): value for name, value in self.headers.items()}
    self.server.requests.append((self.command, self.path, body, headers))

  def do_GET(self):
    self._record(None)
    self._reply({"multi_user": False} if "healthz" in self.path else {})

  def do_POST(self):
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    self._record(body)
    if self.path.endswith("/experiments"):
      self._reply({"id": "exp-1", "name": body["name"]})
    else:
      self._reply({"run": {"id": "run-42", "name": body["name"]}})

  def log_message(self, *args):
    pass


def _submit_to_fake_kfp(path, params, **kwargs):
  """Submits to a fake KFP API on 127.0.0.1; returns the URL and the requests it got."""
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PipelinesApi)
  server.requests = []
  threading.Thread(target=server.serve_forever, daemon=True).start()
  host = f"http://127.0.0.1:{server.server_address[1]}"
  try:
    url = submit.submit("kubeflow", path, params, host=host, **kwargs)
  finally:
    server.shutdown()
    server.server_close()
  return url.replace(host, "HOST"), server.requests


def test_kubeflow_run_carries_the_workflow_and_every_parameter(tmp_path):
  path = _ready(tmp_path, KUBEFLOW_FILE)
  url, requests = _submit_to_fake_kfp(path, ["train_steps=77"], experiment="nightly",
                                      namespace=None)
  assert url == "HOST/#/runs/details/run-42"
  posts = {path: body for method, path, body, _ in requests if method == "POST"}
  assert posts["/apis/v1beta1/experiments"]["name"] == "nightly"
  run = posts["/apis/v1beta1/runs"]
  assert run["resource_references"][0]["key"] == {"type": "EXPERIMENT", "id": "exp-1"}
  assert re.fullmatch(r"mnist-tfx-fashion-mnist-\d{8}-\d{6}-[0-9a-f]{8}", run["name"])
  params = {p["name"]: p["value"] for p in run["pipeline_spec"]["parameters"]}
  assert params == {"train_steps": "77", "accuracy_threshold": str(THRESHOLD),
                    "data_dir": "gs://team-bucket/mnist-tfx/idx/fashion_mnist",
                    "serving_dir": TEAM_SERVING_DIR,
                    "pipeline-root": "gs://team-bucket/mnist-tfx/pipelines/mnist-tfx-fashion-mnist"}
  with open(path) as f:
    assert yaml.safe_load(run["pipeline_spec"]["workflow_manifest"]) == yaml.safe_load(f)
  assert not any("authorization" in headers for *_, headers in requests)


def test_kubeflow_multi_user_run_sends_token_namespace_and_run_options(tmp_path):
  token = tmp_path / "token"
  token.write_text("eyJ.team-token\n")
  token.chmod(0o600)
  run_options = RunOptions(run_name="nightly 3", caching=False,
                           pipeline_root="gs://team-bucket/adhoc", service_account="runner")
  _, requests = _submit_to_fake_kfp(_ready(tmp_path, KUBEFLOW_FILE), [],
                                    run=run_options, token_file=str(token),
                                    experiment="nightly", namespace="team-a")
  # Every call carries the bearer token.
  assert {headers.get("authorization") for *_, headers in requests} == {"Bearer eyJ.team-token"}
  # The experiment is looked up and created in the profile's namespace.
  [lookup] = [p for m, p, *_ in requests if m == "GET" and "/experiments?" in p]
  assert "resource_reference_key.type=NAMESPACE" in lookup and "id=team-a" in lookup
  posts = {path: body for method, path, body, _ in requests if method == "POST"}
  assert posts["/apis/v1beta1/experiments"]["resource_references"] == [
      {"key": {"type": "NAMESPACE", "id": "team-a"}, "relationship": "OWNER"}]
  run = posts["/apis/v1beta1/runs"]
  assert (run["name"], run["service_account"]) == ("nightly 3", "runner")
  params = {p["name"]: p["value"] for p in run["pipeline_spec"]["parameters"]}
  assert params["pipeline-root"] == "gs://team-bucket/adhoc"
  workflow = json.loads(run["pipeline_spec"]["workflow_manifest"])
  for template in [t for t in workflow["spec"]["templates"] if "container" in t]:
    args = template["container"]["args"]
    assert '"enableCache": false' in args[args.index("--tfx_ir") + 1]
    assert template["metadata"]["labels"]["pipelines.kubeflow.org/enable_caching"] == "false"


def test_vertex_job_is_built_offline_with_every_run_option(tmp_path):
  from google.auth.credentials import AnonymousCredentials
  path = _ready(tmp_path, VERTEX_FILE)
  values = submit.parameter_values(_declared(path), ["train_steps=900"])
  run_options = RunOptions(run_name="Nightly", caching=False,
                           pipeline_root="gs://team-bucket/adhoc",
                           service_account="runner@team.iam.gserviceaccount.com")
  jobs = [submit.vertex_job(path, "team", "europe-west4", values, run_options,
                            credentials=AnonymousCredentials()) for _ in range(2)]
  assert jobs[0].job_id != jobs[1].job_id  # Same second, no collision.
  assert re.fullmatch(r"nightly-\d{8}-\d{6}-[0-9a-f]{8}", jobs[0].job_id)
  sent = jobs[0].to_dict()
  assert sent["displayName"] == "Nightly"
  assert sent["serviceAccount"] == "runner@team.iam.gserviceaccount.com"
  assert sent["runtimeConfig"]["gcsOutputDirectory"] == "gs://team-bucket/adhoc"
  # Schema 2.1.0 specs take `parameterValues`: plain JSON values.
  assert sent["runtimeConfig"]["parameterValues"] == {
      "train_steps": 900, "accuracy_threshold": THRESHOLD,
      "data_dir": "gs://team-bucket/mnist-tfx/idx/fashion_mnist",
      "serving_dir": TEAM_SERVING_DIR}
  tasks = sent["pipelineSpec"]["root"]["dag"]["tasks"]
  assert {str(t.get("cachingOptions")) for t in tasks.values()} == {"{'enableCache': False}"}
  cached = submit.vertex_job(path, "team", "europe-west4", values, RunOptions(),
                             credentials=AnonymousCredentials()).to_dict()
  assert cached["runtimeConfig"]["gcsOutputDirectory"] == (
      "gs://team-bucket/mnist-tfx/pipelines/mnist-tfx-fashion-mnist")
  assert "serviceAccount" not in cached

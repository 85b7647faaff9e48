"""`submit_v2`: a KFP v2 spec uploaded and run through the v2beta1 REST API of a fake
Kubeflow Pipelines 2.17 server on 127.0.0.1, typed parameters checked before any network
call, one-line errors, and `wait_for_run` following a run's tasks."""

import http.server
import io
import json
import logging
import os
import re
import socket
import threading
import time
from urllib.parse import unquote

import pytest
import requests

from pipeline.checks import UsageError
from pipeline.runners import submit_v2 as v2
from pipeline.runners.submit import SubmitError
from tests.support.fake_kfp2 import API, FakeKfp2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = """\
components:
  comp-train:
    executorLabel: exec-train
    inputDefinitions:
      parameters:
        steps: {parameterType: NUMBER_INTEGER}
deploymentSpec:
  executors:
    exec-train:
      container: {image: 'python:3.10', command: [echo], args: ['{{$.inputs.parameters[''steps'']}}']}
pipelineInfo: {name: tiny-v2}
root:
  dag:
    tasks:
      train:
        taskInfo: {name: train}
        componentRef: {name: comp-train}
        inputs: {parameters: {steps: {componentInputParameter: train_steps}}}
  inputDefinitions:
    parameters:
      data_dir: {parameterType: STRING, defaultValue: 'gs://team-bucket/idx'}
      train_steps: {parameterType: NUMBER_INTEGER, defaultValue: 4400}
      accuracy_threshold: {parameterType: NUMBER_DOUBLE, defaultValue: 0.9}
schemaVersion: 2.1.0
sdkVersion: kfp-2.7.0
"""
HINT = ("check --host (for a cluster: kubectl port-forward -n kubeflow svc/ml-pipeline-ui "
        "8080:80, then --host http://127.0.0.1:8080)")


@pytest.fixture(name="spec")
def _spec(tmp_path):
  path = tmp_path / "tiny.yaml"
  path.write_text(SPEC)
  return str(path)


def _submit(host, spec, **kwargs):
  args = dict(parameters={}, pipeline_root=None, namespace=None, token=None,
              run_name="nightly", pipeline_name="tiny-v2", experiment="mnist-tfx", timeout=10)
  return v2.submit_v2(host, spec, **{**args, **kwargs})


def _closed_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_upload_and_run_carry_typed_parameters(spec):
  with FakeKfp2() as api:
    created = _submit(api.host, spec, parameters={"train_steps": 5000, "accuracy_threshold": 1},
                      pipeline_root="gs://team-bucket/adhoc")
    [upload] = api.calls("POST", f"{API}/pipelines/upload")
    [post] = api.calls("POST", f"{API}/runs")
    [experiment] = api.calls("POST", f"{API}/experiments")
  assert created["url"] == f"{api.host}/#/runs/details/{created['run_id']}"
  assert upload.query == {"name": "tiny-v2", "display_name": "tiny-v2"}
  assert upload.body["uploadfile"] == ("pipeline.yaml", SPEC.encode())
  assert experiment.body == {"display_name": "mnist-tfx"}
  run = post.body
  assert run["display_name"] == "nightly"
  assert run["experiment_id"] == created["experiment_id"]
  assert run["pipeline_version_reference"] == {
      "pipeline_id": created["pipeline_id"], "pipeline_version_id": created["pipeline_version_id"]}
  # JSON numbers and strings, not v1's strings: an int stays an int, a double a double.
  assert run["runtime_config"] == {
      "parameters": {"train_steps": 5000, "accuracy_threshold": 1.0,
                     "data_dir": "gs://team-bucket/idx"},
      "pipeline_root": "gs://team-bucket/adhoc"}
  assert b'"train_steps": 5000,' in post.raw and b'"accuracy_threshold": 1.0' in post.raw
  assert not any("authorization" in r.headers for r in api.requests)


def test_a_second_submit_adds_a_version_and_reuses_the_experiment(spec):
  with FakeKfp2() as api:
    first = _submit(api.host, spec, experiment="nightly+1 %")  # Survives the filter's unescape.
    second = _submit(api.host, spec, experiment="nightly+1 %")
    [version] = api.calls("POST", f"{API}/pipelines/upload_version")
    posts = api.calls("POST", f"{API}/runs")
  assert len(api.calls("POST", f"{API}/pipelines/upload")) == 1
  assert len(api.calls("POST", f"{API}/experiments")) == 1
  assert second["pipeline_id"] == first["pipeline_id"]
  assert second["experiment_id"] == first["experiment_id"]
  assert second["pipeline_version_id"] != first["pipeline_version_id"]
  assert version.query["pipelineid"] == first["pipeline_id"]
  assert re.fullmatch(r"nightly-\d{8}-\d{6}-[0-9a-f]{8}", version.query["name"])
  assert posts[1].body["pipeline_version_reference"]["pipeline_version_id"] == (
      second["pipeline_version_id"])
  assert "pipeline_root" not in posts[1].body["runtime_config"]
  assert api.experiments[first["experiment_id"]]["display_name"] == "nightly+1 %"


class _Canned(http.server.BaseHTTPRequestHandler):
  """Every request answered alike: what a server that is no KFP 2.x API says."""
  status, body, headers_out = 200, b"", {}

  def do_GET(self):  # noqa: N802
    self.send_response(self.status)
    for name, value in {**self.headers_out, "Content-Length": str(len(self.body))}.items():
      self.send_header(name, value)
    self.end_headers()
    self.wfile.write(self.body)

  do_POST = do_GET

  def log_message(self, *args):
    pass


@pytest.mark.parametrize("status, headers, body, said", [
    # An ingress's login page: where it leads, its query (state) left out.
    (302, {"Location": "https://kubeflow.example/dex/auth?state=x"}, b"",
     "refused GET /apis/v2beta1/experiments: HTTP 302: redirected to "
     "https://kubeflow.example/dex/auth"),
    # A KFP 1.x apiserver has no v2beta1 routes: grpc-gateway's 404.
    (404, {"Content-Type": "application/json"}, b'{"code":5,"message":"Not Found","details":[]}',
     "refused GET /apis/v2beta1/experiments: HTTP 404: Not Found; --host serves no v2beta1 "
     "API: is it Kubeflow Pipelines 2.x?"),
    # Something answering 200 with JSON that is no v2beta1 answer.
    (200, {"Content-Type": "application/json"}, b"{}",
     "answered without 'experiment_id'; is --host the Pipelines API of Kubeflow Pipelines 2.x?"),
    (200, {"Content-Type": "text/html"}, b"<html>UI</html>",
     ": GET /apis/v2beta1/experiments answered with no JSON; is --host the Pipelines API?"),
])
def test_a_server_that_is_no_kfp2_api_is_one_line(spec, status, headers, body, said):
  handler = type("Handler", (_Canned,), {"status": status, "headers_out": headers, "body": body})
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
  host = f"http://127.0.0.1:{server.server_address[1]}"
  try:
    with pytest.raises(SubmitError) as refused:
      _submit(host, spec)
  finally:
    server.shutdown()
    server.server_close()
  separator = "" if said.startswith(":") else " "
  assert str(refused.value) == f"Kubeflow Pipelines at {host}{separator}{said}"


@pytest.mark.parametrize("parameters, message", [
    ({"train_steps": "5000"}, "--param train_steps='5000': expected NUMBER_INTEGER, got str"),
    ({"train_steps": 5.5}, "--param train_steps=5.5: expected NUMBER_INTEGER, got float"),
    ({"train_steps": True}, "--param train_steps=True: expected NUMBER_INTEGER, got bool"),
    ({"accuracy_threshold": "0.9"},
     "--param accuracy_threshold='0.9': expected NUMBER_DOUBLE, got str"),
    ({"data_dir": 3}, "--param data_dir=3: expected STRING, got int"),
    ({"epochs": 3}, "--param epochs: unknown parameter; this pipeline takes accuracy_threshold, "
                    "data_dir, train_steps"),
])
def test_a_wrong_parameter_is_refused_before_any_network_call(spec, parameters, message):
  with FakeKfp2() as api:
    with pytest.raises(UsageError, match="^" + re.escape(message) + "$"):
      _submit(api.host, spec, parameters=parameters)
  assert api.requests == []


def test_the_committed_pipeline_yaml_is_accepted_with_its_typed_parameters():
  path = os.path.join(REPO, "pipeline.yaml")
  with FakeKfp2() as api:
    _submit(api.host, path, parameters={"train_steps": 50})
    [run] = api.calls("POST", f"{API}/runs")
  values = run.body["runtime_config"]["parameters"]
  assert values["train_steps"] == 50 and isinstance(values["train_steps"], int)
  assert isinstance(values["accuracy_threshold"], float)
  assert set(values) == {"data_dir", "serving_dir", "train_steps", "accuracy_threshold"}


def test_a_schema_2_0_0_spec_is_refused_before_any_network_call(tmp_path):
  path = str(tmp_path / "old.yaml")
  with open(os.path.join(REPO, "pipeline.yaml")) as f:
    text = f.read().replace("schemaVersion: 2.1.0", "schemaVersion: 2.0.0")
  with open(path, "w") as f:
    f.write(text)
  with FakeKfp2() as api:
    with pytest.raises(UsageError, match=f"^--file {re.escape(path)} has schemaVersion 2.0.0; "
                                         "Kubeflow Pipelines 2.x takes only 2.1.0$"):
      _submit(api.host, path)
  assert api.requests == []


def test_the_token_is_sent_as_bearer_and_never_logged(spec, caplog, capsys):
  caplog.set_level(logging.DEBUG)  # urllib3's own debug lines included.
  with FakeKfp2(token="eyJ.team-secret") as api:
    api.script_run([("SUCCEEDED", {"train": "SUCCEEDED"})])
    created = _submit(api.host, spec, token="eyJ.team-secret", namespace="team-a")
    v2.wait_for_run(api.host, created["run_id"], "eyJ.team-secret", 0.01, 5, io.StringIO())
    [upload] = api.calls("POST", f"{API}/pipelines/upload")
    [experiment] = api.calls("POST", f"{API}/experiments")
  assert {r.headers.get("authorization") for r in api.requests} == {"Bearer eyJ.team-secret"}
  assert upload.query["namespace"] == "team-a"
  assert experiment.body == {"display_name": "mnist-tfx", "namespace": "team-a"}
  lookup = api.requests[0]
  assert lookup.query["namespace"] == "team-a"
  assert json.loads(unquote(lookup.query["filter"]))["predicates"] == [
      {"key": "display_name", "operation": "EQUALS", "string_value": "mnist-tfx"}]
  out, err = capsys.readouterr()
  assert "team-secret" not in caplog.text + out + err
  assert "submitting" in caplog.text


def test_a_refused_token_is_one_line_without_the_token(spec):
  with FakeKfp2(token="eyJ.right") as api:
    with pytest.raises(SubmitError) as refused:
      _submit(api.host, spec, token="eyJ.wrong", namespace="team-a")
  message = str(refused.value)
  assert message.startswith(f"Kubeflow Pipelines at {api.host} refused GET {API}/experiments: "
                            "HTTP 401: Failed to authorize the request: ")
  assert message.endswith("; a multi-user install needs --namespace and a token (--token-file)")
  assert "\n" not in message and "eyJ" not in message


@pytest.mark.parametrize("edit, said", [
    # The upload route's {"error_message", "error_details"}: the message, not the stack.
    (lambda text: text.replace("{name: tiny-v2}", "{name: ''}"),
     f"POST {API}/pipelines/upload: HTTP 400: invalid v2 pipeline spec: name is empty"),
    # A plain-text http.Error from the same route.
    (None, f"POST {API}/pipelines/upload: HTTP 400: Invalid input error: Pipeline.Name length "
           "cannot exceed 128"),
])
def test_a_4xx_from_the_server_is_one_line(spec, edit, said):
  with open(spec) as f:
    text = f.read()
  with open(spec, "w") as f:
    f.write(edit(text) if edit else text)
  with FakeKfp2() as api:
    with pytest.raises(SubmitError) as refused:
      _submit(api.host, spec, pipeline_name="tiny-v2" if edit else "p" * 129)
  assert str(refused.value) == f"Kubeflow Pipelines at {api.host} refused {said}"


def test_connection_refused_is_one_line_naming_the_host(spec):
  host = f"http://127.0.0.1:{_closed_port()}"
  start = time.monotonic()
  with pytest.raises(SubmitError) as refused:
    _submit(host, spec)
  assert time.monotonic() - start < 5
  assert str(refused.value) == (f"cannot reach Kubeflow Pipelines at {host}: [Errno 111] "
                                f"Connection refused; {HINT}")


def test_a_silent_server_is_one_line_within_the_timeout(spec):
  with socket.socket() as silent:  # Accepts connections (the backlog), never answers.
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    host = f"http://127.0.0.1:{silent.getsockname()[1]}"
    start = time.monotonic()
    with pytest.raises(SubmitError) as refused:
      _submit(host, spec, timeout=1)
  assert time.monotonic() - start < 5
  assert str(refused.value) == (f"Kubeflow Pipelines at {host} did not answer GET "
                                f"{API}/experiments within 1 s; {HINT}")


def _run(api, spec, steps):
  api.script_run(steps)
  return _submit(api.host, spec)["run_id"]


@pytest.mark.parametrize("final", ["SUCCEEDED", "FAILED"])
def test_wait_for_run_prints_each_task_state_change_once(spec, final):
  steps = [("PENDING", {}),
           ("RUNNING", {"train": "PENDING"}),
           ("RUNNING", {"train": "RUNNING"}),
           ("RUNNING", {"train": "RUNNING"}),
           ("RUNNING", {"train": "SUCCEEDED", "evaluate": "RUNNING"}),
           (final, {"train": "SUCCEEDED", "evaluate": final})]
  out = io.StringIO()
  with FakeKfp2() as api:
    run_id = _run(api, spec, steps)
    assert v2.wait_for_run(api.host, run_id, None, 0.01, 10, out) == final
    assert len(api.calls("GET", f"{API}/runs/{run_id}")) == len(steps)
  assert out.getvalue().splitlines() == [
      f"run {run_id}: PENDING", "task train: PENDING", f"run {run_id}: RUNNING",
      "task train: RUNNING", "task train: SUCCEEDED", "task evaluate: RUNNING",
      f"task evaluate: {final}", f"run {run_id}: {final}"]


def test_wait_for_run_gives_up_at_its_timeout_naming_the_page(spec):
  with FakeKfp2() as api:
    run_id = _run(api, spec, [("RUNNING", {"train": "RUNNING"})])
    start = time.monotonic()
    with pytest.raises(SubmitError, match=f"^run {run_id} is still RUNNING after 1 s; follow "
                                          f"it at {re.escape(api.host)}/#/runs/details/{run_id}$"):
      v2.wait_for_run(api.host, run_id, None, 0.05, 1, io.StringIO())
  assert time.monotonic() - start < 3


def test_wait_for_an_unknown_run_is_one_line(spec):
  with FakeKfp2() as api:
    with pytest.raises(SubmitError, match=f"^Kubeflow Pipelines at {re.escape(api.host)} refused "
                                          f"GET {API}/runs/nope: HTTP 404: Failed to get a run: "):
      v2.wait_for_run(api.host, "nope", None, 0.01, 5, io.StringIO())


def test_a_response_past_the_size_cap_is_refused(spec, monkeypatch):
  with FakeKfp2() as api:
    run_id = _run(api, spec, [("RUNNING", {f"task-{i}": "RUNNING" for i in range(50)})])
    monkeypatch.setattr(v2, "MAX_BODY_BYTES", 2000)
    with pytest.raises(SubmitError, match=f"^Kubeflow Pipelines at {re.escape(api.host)}: the "
                                          f"answer to GET {API}/runs/{run_id} is over 2000 "
                                          r"bytes; is --host the Pipelines API\?$"):
      v2.wait_for_run(api.host, run_id, None, 0.01, 5, io.StringIO())


def _post_run(api, run):
  return requests.post(f"{api.host}{API}/runs", json=run, timeout=5)


def test_the_fake_refuses_what_the_api_refuses(spec):
  """The fake is only worth its passes if it fails where KFP 2.17 fails."""
  with FakeKfp2() as api:
    with open(spec, "rb") as f:
      data = f.read()
    wrong_field = requests.post(f"{api.host}{API}/pipelines/upload", timeout=5,
                                files={"file": ("pipeline.yaml", data)})
    assert (wrong_field.status_code, wrong_field.json()["error_message"]) == (
        400, "Failed to read pipeline from file")
    created = _submit(api.host, spec)
    good = {"display_name": "r", "pipeline_version_reference": {
        "pipeline_id": created["pipeline_id"]}, "runtime_config": {"parameters": {}}}
    assert _post_run(api, good).status_code == 200
    cases = [
        ({"parameters": {"train_steps": "5000"}}, 400,
         "input parameter train_steps requires type double or integer, but the parameter value "
         "is not of number value type"),
        ({"parameters": {"data_dir": 5}}, 400, "input parameter data_dir requires type string, "
                                               "but the input parameter is not of string value type"),
        ({"parameters": {"epochs": 3}}, 400,
         "parameter(s) provided are not required by pipeline: epochs"),
        ({"pipeline_root": 5}, 400, "proto: invalid value for string field pipeline_root: 5"),
        ({"pipelineRoot": "gs://b/r"}, 200, None),  # protojson takes lowerCamel names too.
        ({"root": "gs://b/r"}, 400, 'proto: unknown field "root"'),
    ]
    for config, status, message in cases:
      answer = _post_run(api, {**good, "runtime_config": config})
      assert answer.status_code == status, config
      if message:
        body = answer.json()
        assert set(body) == {"code", "message", "details"}
        assert body["message"].endswith(message), body
    nameless = _post_run(api, {**good, "display_name": ""})
    assert (nameless.status_code, nameless.json()["code"]) == (500, 13)
    both = _post_run(api, {**good, "pipeline_spec": {}})
    assert both.status_code == 400 and "oneof" in both.json()["message"]


def test_submit_target_kubeflow_v2_runs_pipeline_yaml_and_waits(tmp_path, capsys):
  from pipeline import cli
  path = tmp_path / "pipeline.yaml"
  with open(os.path.join(REPO, "pipeline.yaml")) as f:
    path.write_text(f.read().replace("YOUR_BUCKET", "team-bucket").replace(
        "mnist-tfx:0.1.0", "registry.example/mnist-tfx:1"))
  with FakeKfp2() as api:
    api.script_run([("RUNNING", {"FileBasedExampleGen": "RUNNING"}),
                    ("SUCCEEDED", {"FileBasedExampleGen": "SUCCEEDED", "Pusher": "SUCCEEDED"})])
    cli.main(["submit", "--target", "kubeflow-v2", "--host", api.host, "--file", str(path),
              "--param", "train_steps=7", "--wait", "--poll-seconds", "0.01"])
    [run] = api.calls("POST", f"{API}/runs")
  assert run.body["runtime_config"]["parameters"]["train_steps"] == 7
  out = capsys.readouterr().out.splitlines()
  assert out[0].startswith(f"submitted: {api.host}/#/runs/details/")
  assert "task Pusher: SUCCEEDED" in out and out[-1].endswith(": SUCCEEDED")

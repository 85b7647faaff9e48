"""Submits a compiled KFP v2 spec to open-source Kubeflow Pipelines 2.x through its v2beta1
REST API, and follows the run. The kfp 1.8 client sends `params` as v1 parameters, which a
2.x backend ignores; here they travel as typed `runtime_config.parameters`.

Facts are from kubeflow/pipelines 2.17.0 (4a3592cb2dd0a91a4652ab93893ec8beda1f3158); every
request is bounded in time and every response body in size, and the token is never logged.
"""

import json
import logging
import re
import time
from typing import IO, Any, Dict, Optional, Tuple
from urllib.parse import quote

import requests
import yaml

from pipeline.checks import UsageError
from pipeline.runners.run_options import run_id as unique_name
from pipeline.runners.submit import SubmitError

_LOG = logging.getLogger(__name__)
API = "/apis/v2beta1"
MAX_SPEC_BYTES = 32 << 20  # The apiserver refuses larger uploads (common/const.go:67).
MAX_BODY_BYTES = 8 << 20  # A run with many tasks is large; an answer past this is no API's.
TERMINAL = ("SUCCEEDED", "SKIPPED", "FAILED", "CANCELED")  # run.proto:233-247
# What the apiserver accepts per parameterType (template/v2_template.go:477-510); it takes
# any JSON number for an integer, so an int is checked here to stay an int.
_KINDS = {"STRING": (str,), "NUMBER_INTEGER": (int,), "NUMBER_DOUBLE": (float, int),
          "BOOLEAN": (bool,), "LIST": (list,), "STRUCT": (dict,)}
_AUTH = "; a multi-user install needs --namespace and a token (--token-file)"
_HINT = ("check --host (for a cluster: kubectl port-forward -n kubeflow svc/ml-pipeline-ui "
         "8080:80, then --host http://127.0.0.1:8080)")


def load_spec(spec_path: str) -> Tuple[Dict[str, Any], bytes]:
  """The spec as a dict and as the bytes to upload; UsageError for what the server refuses."""
  try:
    with open(spec_path, "rb") as f:
      data = f.read(MAX_SPEC_BYTES + 1)
  except OSError as e:
    raise UsageError(f"--file {spec_path}: {e.strerror}") from None
  if len(data) > MAX_SPEC_BYTES:
    raise UsageError(f"--file {spec_path} is over the API's 32 MiB upload limit")
  try:
    spec = yaml.safe_load(data)
  except yaml.YAMLError:
    spec = None
  if not isinstance(spec, dict) or "pipelineInfo" not in spec or "root" not in spec:
    raise UsageError(f"--file {spec_path} is not a KFP v2 pipeline spec")
  # Kubeflow Pipelines 2.x refuses any other version at upload (template/v2_template.go:230).
  if str(spec.get("schemaVersion")) != "2.1.0":
    raise UsageError(f"--file {spec_path} has schemaVersion {spec.get('schemaVersion')}; "
                     "Kubeflow Pipelines 2.x takes only 2.1.0")
  return spec, data


def typed_parameters(spec: Dict[str, Any], parameters: Dict[str, Any]) -> Dict[str, Any]:
  """Every root parameter's JSON value: the given ones checked against `parameterType`, the
  rest the spec's defaults (so the run records each value). UsageError names the fault."""
  declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
  unknown = sorted(set(parameters) - set(declared))
  if unknown:
    raise UsageError(f"--param {unknown[0]}: unknown parameter; this pipeline takes "
                     f"{', '.join(sorted(declared)) or 'none'}")
  values = {}
  for name, definition in declared.items():
    kind = definition.get("parameterType")
    if kind not in _KINDS:  # A schema 2.0.0 `type:` leaves it unset: the server refuses it.
      raise UsageError(f"parameter {name} has parameterType {kind}, which the API refuses")
    if name not in parameters:
      if "defaultValue" in definition:
        values[name] = definition["defaultValue"]
      elif not definition.get("isOptional"):
        raise UsageError(f"--param {name}: required, and the spec has no default")
      continue
    value = parameters[name]
    # bool is an int in Python, and JSON would send it as true: never a number here.
    if isinstance(value, bool) != (kind == "BOOLEAN") or not isinstance(value, _KINDS[kind]):
      raise UsageError(f"--param {name}={value!r}: expected {kind}, got {type(value).__name__}")
    values[name] = float(value) if kind == "NUMBER_DOUBLE" else value
  return values


class HttpError(SubmitError):
  """The service answered with an error status (`status`); the message is one line."""

  def __init__(self, message: str, status: int):
    super().__init__(message)
    self.status = status


def _message(body: bytes) -> str:
  """The server's own words, on one line: a google.rpc.Status `message` (grpc-gateway
  routes), an `error_message` (upload routes), or the text of a plain http.Error."""
  text = body.decode("utf-8", "replace")
  try:
    parsed = json.loads(text)
    text = str(parsed.get("message") or parsed.get("error_message") or text)
  except (ValueError, AttributeError):
    pass
  return " ".join(text.split())[:300] or "(empty body)"


def _reason(error: Exception) -> str:
  """`[Errno 111] Connection refused` out of requests' long wrapper text."""
  found = re.search(r"\[Errno -?\d+\][^'\")]*", str(error))
  return found.group(0).strip() if found else " ".join(str(error).split())[:200]


def _call(method: str, host: str, path: str, token: Optional[str], timeout: float,
          **kwargs: Any) -> Dict[str, Any]:
  """One API call: its JSON answer, or SubmitError naming the host, status and message."""
  headers = {"Authorization": f"Bearer {token}"} if token else {}
  url = host.rstrip("/") + path
  deadline = time.monotonic() + timeout
  late = SubmitError(f"Kubeflow Pipelines at {host} did not answer {method} {path} within "
                     f"{timeout:.0f} s; {_HINT}")
  try:
    with requests.request(method, url, headers=headers, timeout=timeout, stream=True,
                          allow_redirects=False, **kwargs) as response:
      body = b""
      # Read in pieces, so a huge or endless answer stops at the cap or the deadline.
      for chunk in response.iter_content(64 << 10):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
          raise SubmitError(f"Kubeflow Pipelines at {host}: the answer to {method} {path} is "
                            f"over {MAX_BODY_BYTES} bytes; is --host the Pipelines API?")
        if time.monotonic() > deadline:
          raise late
  except requests.Timeout:
    raise late from None
  except requests.RequestException as e:
    raise SubmitError(f"cannot reach Kubeflow Pipelines at {host}: {_reason(e)}; "
                      f"{_HINT}") from None
  status = response.status_code
  if status >= 300:
    # An ingress in front of the API redirects to its login page: say where (no query: it
    # may carry state), not the HTML.
    said = (f"redirected to {response.headers.get('Location', '?').split('?')[0]}"
            if status < 400 else _message(body))
    hint = {401: _AUTH, 403: _AUTH}.get(status, "")
    if status == 404 and said in ("Not Found", "404 page not found"):  # No such route.
      hint = "; --host serves no v2beta1 API: is it Kubeflow Pipelines 2.x?"
    raise HttpError(f"Kubeflow Pipelines at {host} refused {method} {path}: HTTP {status}: "
                    f"{said}{hint}", status)
  try:
    return json.loads(body or b"{}")
  except ValueError:
    raise SubmitError(f"Kubeflow Pipelines at {host}: {method} {path} answered with no "
                      "JSON; is --host the Pipelines API?") from None


def _experiment_id(host: str, name: str, namespace: Optional[str], token: Optional[str],
                   timeout: float) -> str:
  """The id of the experiment `name` in `namespace`, created when missing: a v2 run has no
  namespace of its own, it takes its experiment's (resource_manager.go:2490-2517)."""
  where = {"namespace": namespace} if namespace else {}
  predicate = {"key": "display_name", "operation": "EQUALS", "string_value": name}
  # Quoted once more: the server unescapes the filter after the query string
  # (server/list_request_util.go:143), so a `+` or `%` in a name would change otherwise.
  found = _call("GET", host, f"{API}/experiments", token, timeout, params={
      "filter": quote(json.dumps({"predicates": [predicate]})), "page_size": 1, **where})
  for experiment in found.get("experiments", []):
    return experiment["experiment_id"]
  return _call("POST", host, f"{API}/experiments", token, timeout,
               json={"display_name": name, **where})["experiment_id"]


def _upload(host: str, data: bytes, pipeline_name: str, version_name: str,
            namespace: Optional[str], token: Optional[str], timeout: float) -> Tuple[str, str]:
  """(pipeline id, version id): a new version of the pipeline named `pipeline_name`, or a new
  pipeline when there is none (pipeline_upload_server.go:96-385)."""
  files = {"uploadfile": ("pipeline.yaml", data, "application/x-yaml")}
  where = {"namespace": namespace} if namespace else {}
  try:
    pipeline = _call("GET", host, f"{API}/pipelines/names/{quote(pipeline_name, safe='')}",
                     token, timeout, params=where)
  except HttpError as e:
    if e.status != 404:
      raise
    # Upload answers with the pipeline only; its one version is found by listing.
    pipeline_id = _call("POST", host, f"{API}/pipelines/upload", token, timeout, files=files,
                        params={"name": pipeline_name, "display_name": pipeline_name,
                                **where})["pipeline_id"]
    versions = _call("GET", host, f"{API}/pipelines/{pipeline_id}/versions", token, timeout,
                     params={"page_size": 1, "sort_by": "created_at desc"})
    return pipeline_id, versions["pipeline_versions"][0]["pipeline_version_id"]
  version = _call("POST", host, f"{API}/pipelines/upload_version", token, timeout,
                  files=files, params={"pipelineid": pipeline["pipeline_id"],
                                       "name": version_name, "display_name": version_name})
  return pipeline["pipeline_id"], version["pipeline_version_id"]


def run_url(host: str, run_id: str) -> str:
  """The run's page in the Pipelines UI."""
  return f"{host.rstrip('/')}/#/runs/details/{run_id}"


def submit_v2(host: str, spec_path: str, parameters: Dict[str, Any],
              pipeline_root: Optional[str], namespace: Optional[str], token: Optional[str],
              run_name: str, pipeline_name: str, experiment: Optional[str],
              timeout: float) -> Dict[str, str]:
  """Uploads the spec (a new pipeline, or a new version of `pipeline_name`) and starts a run.

  Everything that can be refused offline is refused before any network call (UsageError);
  the service's refusals are one-line SubmitErrors. `timeout` bounds each call.
  Returns run_id, url, pipeline_id, pipeline_version_id and experiment_id.
  """
  spec, data = load_spec(spec_path)
  values = typed_parameters(spec, parameters)
  if not run_name:
    raise UsageError("--run-name: empty; the API needs a display name")
  _LOG.info("submitting %s to %s with %s", spec_path, host, values)
  runtime_config: Dict[str, Any] = {"parameters": values}
  if pipeline_root:
    runtime_config["pipeline_root"] = pipeline_root
  try:
    experiment_id = _experiment_id(host, experiment or "Default", namespace, token, timeout)
    pipeline_id, version_id = _upload(host, data, pipeline_name, unique_name(run_name),
                                      namespace, token, timeout)
    run_id = _call("POST", host, f"{API}/runs", token, timeout, json={
        "display_name": run_name, "experiment_id": experiment_id,
        "pipeline_version_reference": {"pipeline_id": pipeline_id,
                                       "pipeline_version_id": version_id},
        "runtime_config": runtime_config})["run_id"]
  except (KeyError, IndexError, TypeError) as e:  # A 200 that is no v2beta1 answer.
    raise SubmitError(f"Kubeflow Pipelines at {host} answered without {e}; is --host the "
                      "Pipelines API of Kubeflow Pipelines 2.x?") from None
  return {"run_id": run_id, "url": run_url(host, run_id),
          "pipeline_id": pipeline_id, "pipeline_version_id": version_id,
          "experiment_id": experiment_id}


def wait_for_run(host: str, run_id: str, token: Optional[str], poll_s: float, timeout: float,
                 out: IO[str]) -> str:
  """Follows a run until a terminal state, writing one line per state change of the run or
  of any task (`task NAME: STATE`); returns the run's final state. SubmitError past
  `timeout` seconds, naming the run's page to follow it there."""
  deadline = time.monotonic() + timeout
  seen: Dict[str, str] = {}
  last = None
  while True:
    call_timeout = max(1.0, min(30.0, deadline - time.monotonic()))
    run = _call("GET", host, f"{API}/runs/{quote(run_id, safe='')}", token, call_timeout)
    for task in run.get("run_details", {}).get("task_details", []):
      # Task ids are unique; display names repeat (a driver and its executor, loop items).
      key = task.get("task_id") or task.get("display_name", "?")
      state = task.get("state", "RUNTIME_STATE_UNSPECIFIED")  # Zero values are omitted.
      if seen.get(key) != state:
        seen[key] = state
        print(f"task {task.get('display_name', key)}: {state}", file=out, flush=True)
    state = run.get("state", "RUNTIME_STATE_UNSPECIFIED")
    if last != state:
      last = state
      print(f"run {run_id}: {state}", file=out, flush=True)
    if state in TERMINAL:
      return state
    if time.monotonic() + poll_s > deadline:
      raise SubmitError(f"run {run_id} is still {state} after {timeout:.0f} s; follow it at "
                        f"{run_url(host, run_id)}")
    time.sleep(poll_s)

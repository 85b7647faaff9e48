"""A fake Kubeflow Pipelines 2.17 API server on 127.0.0.1: the v2beta1 routes that
`pipeline.runners.submit_v2` calls, accepting what the real apiserver accepts and refusing
the rest with the real error shapes. From kubeflow/pipelines 2.17.0
(4a3592cb2dd0a91a4652ab93893ec8beda1f3158):

- grpc-gateway routes answer errors as google.rpc.Status JSON, `{"code", "message",
  "details"}`, the HTTP status from the gRPC code (main.go:405-407 sets no error handler;
  run.swagger.json:392); `message` is the server's wrapped error chain, abridged here.
- Request bodies are parsed by protojson with DiscardUnknown false (common/utils.go:153-166):
  an unknown field is a 400; proto and lowerCamel names are both accepted.
- The upload routes write `{"error_message", "error_details"}` (pipeline_upload_server.go:423-432)
  or, for length and namespace checks, plain text (http.Error, :119-127, :174-177).

Records every request; scripts a run's states over successive GETs (`script_run`).
"""

import email.parser
import email.policy
import http.server
import json
import re
import threading
import time
import uuid
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

import yaml

API = "/apis/v2beta1"
_CODES = {3: 400, 5: 404, 6: 409, 13: 500, 16: 401}  # runtime.HTTPStatusFromCode
_S, _ANY = "string", "any"  # protojson: a string field, a google.protobuf.Value / Struct.
_REF = {"pipeline_id": _S, "pipeline_version_id": _S}
_CONFIG = {"parameters": "value map", "pipeline_root": _S}
_RUN = {"experiment_id": _S, "run_id": _S, "display_name": _S, "storage_state": _S,
        "description": _S, "pipeline_version_id": _S, "pipeline_spec": _ANY,
        "pipeline_version_reference": _REF, "runtime_config": _CONFIG, "service_account": _S,
        "created_at": _S, "scheduled_at": _S, "finished_at": _S, "state": _S, "error": _ANY,
        "run_details": _ANY, "recurring_run_id": _S, "state_history": _ANY,
        "plugins_input": _ANY, "plugins_output": _ANY}  # run.proto:126-211
_EXPERIMENT = {"experiment_id": _S, "display_name": _S, "description": _S, "created_at": _S,
               "namespace": _S, "storage_state": _S, "last_run_created_at": _S}
_PIPELINE_SOURCE = ("pipeline_version_id", "pipeline_spec", "pipeline_version_reference")


class Recorded(NamedTuple):
  method: str
  path: str
  query: Dict[str, str]
  headers: Dict[str, str]  # Lower-case names.
  body: Any  # Parsed JSON; for multipart, {field: (filename, bytes)}; else None.
  raw: bytes


class ApiError(Exception):
  """An error answer: HTTP status, JSON or text body."""

  def __init__(self, status: int, body: Any):
    super().__init__(status)
    self.status, self.body = status, body


def status_error(code: int, message: str, external: Optional[str] = None) -> ApiError:
  """A grpc-gateway error: the UserError's chain, its external message in details
  (common/util/error.go:295-309)."""
  details = [{"@type": "type.googleapis.com/google.rpc.Status", "code": code,
              "message": external or message}]
  return ApiError(_CODES[code], {"code": code, "message": message, "details": details})


def upload_error(status: int, message: str) -> ApiError:
  """pipeline_upload_server.go:423-432; error_details is `%+v`, a stack trace there."""
  return ApiError(status, {"error_message": message, "error_details": message + "\n\t..."})


def _camel(name: str) -> str:
  head, *rest = name.split("_")
  return head + "".join(part.title() for part in rest)


def protojson(body: bytes, schema: Dict[str, Any]) -> Dict[str, Any]:
  """The message protojson would accept, with proto names; 400 like grpc-gateway otherwise."""
  try:
    value = json.loads(body or b"{}")
  except ValueError as e:
    raise status_error(3, f"proto: syntax error: {e}") from None
  return _fields(value, schema)


def _fields(value: Any, schema: Dict[str, Any]) -> Dict[str, Any]:
  if not isinstance(value, dict):
    raise status_error(3, f"proto: unexpected token {json.dumps(value)}")
  names = {alias: name for name in schema for alias in (name, _camel(name))}
  out = {}
  for key, item in value.items():
    if key not in names:
      raise status_error(3, f'proto: unknown field "{key}"')
    name, kind = names[key], schema[names[key]]
    if kind == _S and not isinstance(item, str):
      raise status_error(3, f"proto: invalid value for string field {key}: {json.dumps(item)}")
    if kind == "value map" and not isinstance(item, dict):
      raise status_error(3, f"proto: invalid value for map field {key}: {json.dumps(item)}")
    out[name] = _fields(item, kind) if isinstance(kind, dict) else item
  return out


class FakeKfp2:
  """`with FakeKfp2() as api:` serves on api.host until the block ends.

  token: when set, the install is multi-user: every call needs `Authorization: Bearer
  TOKEN`, experiments a namespace and runs an experiment id.
  """

  def __init__(self, token: Optional[str] = None):
    self.token = token
    self.requests: List[Recorded] = []
    self.pipelines: Dict[str, Dict[str, Any]] = {}
    self.versions: Dict[str, Dict[str, Any]] = {}  # Each also keeps its parsed `spec`.
    self.experiments: Dict[str, Dict[str, Any]] = {}
    self.runs: Dict[str, Dict[str, Any]] = {}
    self._scripts: Dict[Optional[str], List[Tuple[str, Dict[str, str]]]] = {}
    self._gets: Dict[str, int] = {}
    self._server: Optional[http.server.ThreadingHTTPServer] = None

  def __enter__(self) -> "FakeKfp2":
    fake = self

    class Handler(http.server.BaseHTTPRequestHandler):
      def do_GET(self):  # noqa: N802 (http.server's naming)
        fake._serve(self)

      do_POST = do_GET

      def log_message(self, *args):
        pass
    self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    return self

  def __exit__(self, *exc) -> None:
    self._server.shutdown()
    self._server.server_close()

  @property
  def host(self) -> str:
    return f"http://127.0.0.1:{self._server.server_address[1]}"

  def script_run(self, steps: List[Tuple[str, Dict[str, str]]],
                 run_id: Optional[str] = None) -> None:
    """What successive GETs of a run answer: (run state, {task name: state}) per GET, the
    last repeated. run_id None: every run created after this call."""
    self._scripts[run_id] = steps

  def calls(self, method: str, path: str) -> List[Recorded]:
    return [r for r in self.requests if r.method == method and r.path == path]

  # The server side.
  def _serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
    url = urlsplit(handler.path)
    query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    headers = {k.lower(): v for k, v in handler.headers.items()}
    raw = handler.rfile.read(int(headers.get("content-length", 0)))
    record = Recorded(handler.command, url.path, query, headers, _parsed(headers, raw), raw)
    self.requests.append(record)
    try:
      status, body = 200, self._route(record)
    except ApiError as e:
      status, body = e.status, e.body
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain; charset=utf-8" if isinstance(body, str)
                        else "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)

  def _authorized(self, record: Recorded) -> bool:
    return not self.token or record.headers.get("authorization") == f"Bearer {self.token}"

  def _route(self, r: Recorded) -> Any:
    upload = r.path in (f"{API}/pipelines/upload", f"{API}/pipelines/upload_version")
    if upload:
      return self._upload(r)
    if not self._authorized(r):  # auth/authenticator_token_review.go:92-97
      raise status_error(16, "Failed to authorize the request: Authentication failure: "
                         "Unauthenticated: Review.Status.Authenticated is false. Error : "
                         "Failed to authenticate token review",
                         "Review.Status.Authenticated is false. Error ")
    routes = [("GET", r"/experiments", self._list_experiments),
              ("POST", r"/experiments", self._create_experiment),
              ("GET", r"/pipelines/names/([^/]+)", self._pipeline_by_name),
              ("GET", r"/pipelines/([^/]+)/versions", self._list_versions),
              ("POST", r"/runs", self._create_run),
              ("GET", r"/runs/([^/:]+)", self._get_run)]
    for method, pattern, serve in routes:
      match = re.fullmatch(re.escape(API) + pattern, r.path)
      if match and r.method == method:
        return serve(r, *map(unquote, match.groups()))
    raise ApiError(404, {"code": 5, "message": "Not Found", "details": []})

  def _upload(self, r: Recorded) -> Dict[str, Any]:
    """pipeline_upload_server.go:96-231 (a pipeline) and :248-385 (a version)."""
    new = r.path.endswith("/upload")
    what = "a pipeline" if new else "a pipeline version"
    form = r.body if isinstance(r.body, dict) else {}
    if "uploadfile" not in form:  # r.FormFile("uploadfile"), :103 and :254
      raise upload_error(400, "Failed to read pipeline from file" if new
                         else "Failed to create a pipeline version")
    filename, data = form["uploadfile"]
    if not re.search(r"\.(ya?ml|json)$", filename) or len(data) > 32 << 20:  # util.go:154-178
      raise upload_error(400, "Failed to read a pipeline spec file" if new
                         else "Failed to create a pipeline version")
    name = r.query.get("name") or r.query.get("display_name") or filename  # :1320-1330
    if new:
      namespace = r.query.get("namespace", "")
      if len(namespace) > 63:
        raise ApiError(400, "Invalid input error: Pipeline.Namespace length cannot exceed 63")
      if self.token and not namespace:  # IsNamespaceRequiredForPipelines, namespace.go:25-30
        raise ApiError(400, "Invalid input error: Namespace is required for pipeline operations")
    elif r.query.get("pipelineid", "") not in self.pipelines:  # :268-295
      raise upload_error(400, "Failed to create a pipeline version")
    else:
      namespace = self.pipelines[r.query["pipelineid"]]["namespace"]
    if not self._authorized(r):  # :133-138, :307-312: a refusal reads as a 400 there.
      raise upload_error(400, f"Failed to create {what}")
    if len(name) > (128 if new else 127):  # validation/length.go:47,51
      model = "Pipeline" if new else "PipelineVersion"
      raise ApiError(400, f"Invalid input error: {model}.Name length cannot exceed "
                          f"{128 if new else 127}")
    spec = _v2_spec(data)
    if new and any((p["name"], p["namespace"]) == (name, namespace)
                   for p in self.pipelines.values()):
      raise upload_error(409, "Failed to create a pipeline and a pipeline version")
    pipeline_id = str(uuid.uuid4()) if new else r.query["pipelineid"]
    if any(v["pipeline_id"] == pipeline_id and v["name"] == name for v in self.versions.values()):
      raise upload_error(409, "Failed to create a pipeline version")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    display = r.query.get("display_name") or name
    if new:
      self.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "name": name,
                                     "display_name": display, "namespace": namespace,
                                     "created_at": now}
    version_id = str(uuid.uuid4())
    self.versions[version_id] = {"pipeline_id": pipeline_id, "pipeline_version_id": version_id,
                                 "name": name, "display_name": display, "created_at": now,
                                 "order": len(self.versions), "spec": spec}
    # v2beta1 answers the pipeline for an upload (:207), the version for upload_version.
    return dict(self.pipelines[pipeline_id]) if new else _public(self.versions[version_id])

  def _list_experiments(self, r: Recorded) -> Dict[str, Any]:
    wanted = None
    if r.query.get("filter"):
      try:
        # Unescaped again after the query string (server/list_request_util.go:143).
        [predicate] = json.loads(unquote_plus(r.query["filter"]))["predicates"]
        assert predicate["key"] in ("display_name", "name") and predicate["operation"] == "EQUALS"
        wanted = predicate["string_value"]
      except (ValueError, KeyError, AssertionError, TypeError):
        raise status_error(3, "Failed to create list options: Invalid input error: filter "
                              f"not understood by this fake: {r.query['filter']}") from None
    found = [e for e in self.experiments.values()
             if e["namespace"] == r.query.get("namespace", "")
             and wanted in (None, e["display_name"])]
    return {"experiments": found, "total_size": len(found)} if found else {}

  def _create_experiment(self, r: Recorded) -> Dict[str, Any]:
    body = protojson(r.raw, _EXPERIMENT)
    if not body.get("display_name"):
      raise status_error(13, "[ExperimentServer]: Failed to create a experiment due to "
                         "conversion error: InternalServerError: Failed to convert API "
                         "experiment to model experiment: Invalid input error: Experiment must "
                         "have a non-empty name", "Internal Server Error")
    namespace = body.get("namespace", "")
    if self.token and not namespace:  # experiment_server.go:357
      raise status_error(3, "Failed to create a experiment: Invalid input error: An experiment "
                         "cannot have an empty namespace in multi-user mode")
    if any((e["display_name"], e["namespace"]) == (body["display_name"], namespace)
           for e in self.experiments.values()):
      raise status_error(6, "Failed to create a experiment: Already exist error: Experiment "
                         f"{body['display_name']} already exists")
    experiment_id = str(uuid.uuid4())
    self.experiments[experiment_id] = {"experiment_id": experiment_id,
                                       "display_name": body["display_name"],
                                       "namespace": namespace, "storage_state": "AVAILABLE"}
    return self.experiments[experiment_id]

  def _pipeline_by_name(self, r: Recorded, name: str) -> Dict[str, Any]:
    namespace = r.query.get("namespace", "")
    for pipeline in self.pipelines.values():
      if (pipeline["name"], pipeline["namespace"]) == (name, namespace):
        return pipeline
    missing = f"Namespace/Pipeline {namespace}/{name} not found"  # storage/pipeline_store.go:206
    raise status_error(5, f"Failed to get a pipeline with name {name} and namespace {namespace}. "
                       f"Check error stack.: Failed to get a pipeline named {name} in namespace "
                       f"{namespace}: ResourceNotFoundError: {missing}", missing)

  def _list_versions(self, r: Recorded, pipeline_id: str) -> Dict[str, Any]:
    if r.query.get("sort_by", "") not in ("", "created_at", "created_at desc", "created_at asc"):
      raise status_error(3, f"Failed to create list options: Invalid input error: Invalid "
                            f"sorting field: \"{r.query['sort_by']}\"")
    found = sorted((v for v in self.versions.values() if v["pipeline_id"] == pipeline_id),
                   key=lambda v: v["order"], reverse=r.query.get("sort_by", "").endswith("desc"))
    found = found[:int(r.query.get("page_size") or 10)]
    return {"pipeline_versions": [_public(v) for v in found], "total_size": len(found)}

  def _create_run(self, r: Recorded) -> Dict[str, Any]:
    """run_server.go:514-541 -> :138-161 -> resource_manager.go:624-671."""
    body = protojson(r.raw, _RUN)
    sources = [name for name in _PIPELINE_SOURCE if name in body]
    if len(sources) > 1:  # A oneof (run.proto:158-167).
      raise status_error(3, f"proto: error parsing \"{_camel(sources[1])}\", oneof "
                         f"kubeflow.pipelines.backend.api.v2beta1.Run.pipeline_source is already set")
    if not body.get("display_name"):  # api_converter.go:1321-1324
      raise status_error(13, "CreateJob(job.ToV2())Failed to create a run due to conversion "
                         "error: InternalServerError: Failed to convert a API run detail to its "
                         "internal representation: Invalid input error: Run name cannot be empty",
                         "Internal Server Error")
    experiment_id = body.get("experiment_id", "")
    if self.token and not experiment_id:  # resource_manager.go:2491-2493
      raise status_error(3, "Failed to create a new run: Failed to create a run due to invalid "
                         "experimentId and namespace combination: Invalid input error: Experiment "
                         "id can not be empty in multi-user mode")
    if experiment_id and experiment_id not in self.experiments:
      raise status_error(5, f"Failed to create a new run: Failed to create a run due to invalid "
                         f"experimentId and namespace combination: Failed to fetch namespace for "
                         f"experiment {experiment_id}: ResourceNotFoundError: Experiment "
                         f"{experiment_id} not found", f"Experiment {experiment_id} not found")
    version = self._version_of(body.get("pipeline_version_reference", {}))
    config = body.get("runtime_config", {})
    problem = _job_input_problem(version["spec"], config.get("parameters", {}))
    if problem:  # template/v2_template.go:373-375, resource_manager.go:669-671
      raise status_error(3, "Failed to create a new run: Failed to generate the ExecutionSpec: "
                         f"invalid pipeline job inputs: Invalid input error: {problem}", problem)
    run_id = str(uuid.uuid4())
    self.runs[run_id] = {**body, "run_id": run_id, "experiment_id": experiment_id or "default",
                         "pipeline_version_reference": {
                             "pipeline_id": version["pipeline_id"],
                             "pipeline_version_id": version["pipeline_version_id"]},
                         "storage_state": "AVAILABLE", "state": "PENDING"}
    self._scripts.setdefault(run_id, self._scripts.get(None, [("PENDING", {})]))
    return self.runs[run_id]

  def _version_of(self, reference: Dict[str, str]) -> Dict[str, Any]:
    """resource_manager.go:1239-1257; a missing one is an internal error there (:638-641)."""
    pipeline_id = reference.get("pipeline_id", "")
    version_id = reference.get("pipeline_version_id", "")
    if version_id:
      version = self.versions.get(version_id)
      if version and pipeline_id and version["pipeline_id"] != pipeline_id:
        raise status_error(3, f"Failed to create a new run: Invalid input error: Pipeline "
                           f"version {version_id} belongs to pipeline {version['pipeline_id']} "
                           f"(not {pipeline_id})")
    else:
      versions = [v for v in self.versions.values() if v["pipeline_id"] == pipeline_id]
      version = max(versions, key=lambda v: v["order"]) if versions else None
    if version is None:
      raise status_error(13, "Failed to create a new run: InternalServerError: Failed to create "
                         "a run due to error fetching manifest: Failed to fetch a template due "
                         "to error retrieving pipeline version: ResourceNotFoundError: "
                         f"PipelineVersion {version_id or pipeline_id} not found",
                         "Internal Server Error")
    return version

  def _get_run(self, r: Recorded, run_id: str) -> Dict[str, Any]:
    if run_id not in self.runs:
      raise status_error(5, f"Failed to get a run: Failed to fetch run {run_id}: "
                         f"ResourceNotFoundError: Run {run_id} not found", f"Run {run_id} not found")
    steps = self._scripts[run_id]
    step = self._gets[run_id] = self._gets.get(run_id, -1) + 1
    state, tasks = steps[min(step, len(steps) - 1)]
    run = {**self.runs[run_id], "state": state}
    if tasks:
      run["run_details"] = {"task_details": [
          {"run_id": run_id, "task_id": f"{run_id}-{i}", "display_name": name, "state": s}
          for i, (name, s) in enumerate(tasks.items())]}
    return run


def _parsed(headers: Dict[str, str], raw: bytes) -> Any:
  """A request body as a test reads it: JSON, or a multipart form's file fields as Go's
  ParseMultipartForm files them (a part without a filename is no file); else None."""
  kind = headers.get("content-type", "")
  if kind.startswith("multipart/form-data"):
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {kind}\r\n\r\n".encode() + raw)
    return {part.get_param("name", header="content-disposition"):
            (part.get_filename(), part.get_payload(decode=True))
            for part in message.iter_parts() if part.get_filename() is not None}
  try:
    return json.loads(raw) if raw else None
  except ValueError:
    return None


def _public(version: Dict[str, Any]) -> Dict[str, Any]:
  return {k: v for k, v in version.items() if k not in ("spec", "order")}


def _v2_spec(data: bytes) -> Dict[str, Any]:
  """The checks of template/v2_template.go:195-265, as an upload reports them (:188-192)."""
  try:
    spec = yaml.safe_load(data)
  except yaml.YAMLError as e:
    raise upload_error(400, f"unable to decode yaml document: {e}") from None
  if not isinstance(spec, dict) or "pipelineInfo" not in spec:
    raise upload_error(400, "no pipeline spec is provided")
  if str(spec.get("schemaVersion")) != "2.1.0":
    raise upload_error(400, "KFP only supports schema version 2.1.0, but the pipeline spec has "
                            f"version {spec.get('schemaVersion', '')}")
  name = (spec.get("pipelineInfo") or {}).get("name", "")
  if not name:
    raise upload_error(400, "invalid v2 pipeline spec: name is empty")
  if not spec.get("root"):
    raise upload_error(400, "invalid v2 pipeline spec: root component is empty")
  return spec


def _job_input_problem(spec: Dict[str, Any], values: Dict[str, Any]) -> Optional[str]:
  """What template/v2_template.go:442-532 refuses in a run's parameters, or None."""
  declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
  kinds = {"NUMBER_DOUBLE": (int, float), "NUMBER_INTEGER": (int, float), "STRING": (str,),
           "BOOLEAN": (bool,), "LIST": (list,), "STRUCT": (dict,)}
  number = "type double or integer, but the parameter value is not of number value type"
  words = {"NUMBER_DOUBLE": number, "NUMBER_INTEGER": number,
           **{kind: f"type {word}, but the input parameter is not of {word} value type"
              for kind, word in (("STRING", "string"), ("BOOLEAN", "bool"), ("LIST", "list"),
                                 ("STRUCT", "struct"))}}
  for name, definition in declared.items():
    kind = definition.get("parameterType")
    if name not in values:
      if not definition.get("isOptional") and "defaultValue" not in definition:
        return (f"parameter {name} is not optional, yet has neither default value nor user "
                "provided value")
      continue
    if kind not in kinds:
      return f"input parameter {name} has unspecified type"
    value = values[name]
    # JSON true is a bool, never a number (structpb.Value's kinds are exclusive).
    if not isinstance(value, kinds[kind]) or (isinstance(value, bool) != (kind == "BOOLEAN")):
      return f"input parameter {name} requires {words[kind]}"
  extra = sorted(set(values) - set(declared))
  if extra:
    return f"parameter(s) provided are not required by pipeline: {', '.join(extra)}"
  return None

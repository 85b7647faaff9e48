"""Submits a compiled pipeline: to Vertex AI Pipelines, or to an open-source Kubeflow
Pipelines endpoint. Parameters are checked against the compiled file before any
network call, and every run carries a value for each of them (the compiled
default unless `--param` overrides it)."""

import json
import logging
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from pipeline.checks import UsageError
from pipeline.runners.run_options import (RunOptions, bearer_token, check_placeholders,
                                          check_token_transport, run_id, without_cache)

_LOG = logging.getLogger(__name__)
_CASTS = {"INT": int, "NUMBER_INTEGER": int, "DOUBLE": float, "NUMBER_DOUBLE": float,
          "STRING": str}


class SubmitError(RuntimeError):
  """The service refused or could not be reached; the message says what to check."""


def declared_parameters(compiled: Dict[str, Any]) -> Dict[str, Tuple[type, Any]]:
  """Parameter name -> (type, default) of a compiled file: a KFP v2 spec or an Argo workflow."""
  if "pipelineInfo" in compiled:
    return {name: (_CASTS[d.get("type") or d.get("parameterType")], d.get("defaultValue"))
            for name, d in compiled["root"].get("inputDefinitions", {})
            .get("parameters", {}).items()}
  # Argo keeps every value as a string: the types are those of the defaults.
  declared = {}
  for p in compiled["spec"]["arguments"]["parameters"]:
    kind = next(t for t in (int, float, str) if _parses(p["value"], t))
    declared[p["name"]] = (kind, kind(p["value"]))
  return declared


def _parses(text: str, kind: type) -> bool:
  try:
    kind(text)
    return True
  except ValueError:
    return False


def parameter_values(declared: Dict[str, Tuple[type, Any]], params: Sequence[str]) -> Dict[str, Any]:
  """Every declared parameter's value: the defaults, overridden by `name=value` strings.

  Raises:
    UsageError: a malformed, unknown or mistyped --param (names the choices).
  """
  values = {name: default for name, (_, default) in declared.items()}
  for param in params:
    name, sep, text = param.partition("=")
    if not sep:
      raise UsageError(f"--param {param!r}: write it as name=value")
    if name not in declared:
      raise UsageError(f"--param {name}: unknown parameter; this pipeline takes "
                       f"{', '.join(sorted(declared))}")
    kind = declared[name][0]
    try:
      values[name] = kind(text)
    except ValueError:
      raise UsageError(f"--param {name}={text}: expected {kind.__name__}") from None
  return values


def load_compiled(path: str) -> Dict[str, Any]:
  """A compiled file, read as YAML; UsageError if it is missing or not a pipeline."""
  try:
    with open(path) as f:
      compiled = yaml.safe_load(f)
  except OSError as e:
    raise UsageError(f"--file {path}: {e.strerror}; write it with `python -m pipeline "
                     "compile`") from None
  if not isinstance(compiled, dict) or not ("pipelineInfo" in compiled or "spec" in compiled):
    raise UsageError(f"--file {path} is not a compiled pipeline")
  return compiled


def pipeline_name_of(compiled: Dict[str, Any]) -> str:
  """The pipeline's name in a compiled file of either kind."""
  return (compiled.get("pipelineInfo", {}).get("name")
          or compiled["metadata"]["generateName"].rstrip("-"))


def vertex_job(path: str, project: str, region: str, values: Dict[str, Any],
               run: RunOptions, credentials: Any = None):
  """The aiplatform.PipelineJob that `submit_vertex` sends; building it calls no service."""
  from google.cloud import aiplatform
  name = run.run_name or pipeline_name_of(load_compiled(path))
  job = aiplatform.PipelineJob(
      display_name=name, template_path=path, job_id=run_id(name), parameter_values=values,
      project=project, location=region, pipeline_root=run.pipeline_root,
      enable_caching=None if run.caching else False, credentials=credentials)
  if run.service_account:
    # What PipelineJob.submit(service_account=...) sets; set here so the job is complete.
    job._gca_resource.service_account = run.service_account
  return job


def submit_vertex(path: str, project: str, region: str, values: Dict[str, Any],
                  run: RunOptions) -> str:
  """Starts a Vertex AI PipelineJob; returns its console URL."""
  from google.auth import exceptions as auth_errors
  from google.api_core import exceptions as api_errors
  try:
    job = vertex_job(path, project, region, values, run)
    job.submit()
  except auth_errors.DefaultCredentialsError:
    raise SubmitError("no Google Cloud credentials: run `gcloud auth application-default "
                      "login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account "
                      "key file") from None
  except (auth_errors.GoogleAuthError, api_errors.GoogleAPIError) as e:
    raise SubmitError(f"Vertex AI refused the run ({type(e).__name__}): "
                      f"{str(e).splitlines()[0]}") from None
  return job._dashboard_uri()


def submit_kubeflow(path: str, where: Dict[str, Optional[str]], values: Dict[str, Any],
                    run: RunOptions, token: Optional[str]) -> str:
  """Starts a run on a Kubeflow Pipelines API endpoint (kfp 1.8 client); returns its URL.

  `where`: host, experiment and namespace (None on a single-user install).
  """
  import kfp
  import urllib3
  from kfp_server_api.exceptions import ApiException
  host = where["host"]
  params = {k: str(v) for k, v in values.items()}
  if run.pipeline_root:
    params["pipeline-root"] = run.pipeline_root
  name = run.run_name or run_id(pipeline_name_of(load_compiled(path)))
  try:
    with tempfile.TemporaryDirectory() as scratch:
      package = _package(path, run, scratch)
      client = kfp.Client(host=host, existing_token=token)
      experiment_id = client.create_experiment(where["experiment"],
                                               namespace=where["namespace"]).id
      created = client.run_pipeline(experiment_id, name, pipeline_package_path=package,
                                    params=params, service_account=run.service_account)
  except urllib3.exceptions.HTTPError as e:
    reason = getattr(e, "reason", None) or e
    raise SubmitError(f"cannot reach Kubeflow Pipelines at {host}: {_short(reason)}; check "
                      "--host (for a cluster: kubectl port-forward -n kubeflow "
                      "svc/ml-pipeline-ui 8080:80, then --host http://127.0.0.1:8080)") from None
  except ApiException as e:
    hint = ("; a multi-user install needs --namespace and a token (--token-file)"
            if e.status in (401, 403) else "")
    raise SubmitError(f"Kubeflow Pipelines at {host} refused the run: HTTP {e.status} "
                      f"{e.reason}: {_short(e.body)}{hint}") from None
  return f"{host.rstrip('/')}/#/runs/details/{created.id}"


def _package(path: str, run: RunOptions, scratch: str) -> str:
  """The workflow file to send: `path` itself, or a copy with every cache turned off."""
  if run.caching:
    return path
  package = os.path.join(scratch, "workflow.yaml")
  with open(package, "w") as f:
    json.dump(without_cache(load_compiled(path)), f)  # JSON is YAML.
  return package


def _short(reason: Any) -> str:
  """The last, most specific part of a urllib3/HTTP error, on one line."""
  text = " ".join(str(reason).split())
  return text.rsplit(": ", 1)[-1] if "Errno" in text else text[:300]


def submit(target: str, path: str, params: List[str], run: Optional[RunOptions] = None,
           token_file: Optional[str] = None, allow_insecure_http: bool = False,
           **where: Optional[str]) -> str:
  """Checks `params` and the file at `path`, then submits; returns the run's URL.

  Everything that can be refused is refused before any network call; a token goes over
  plain http:// only to this machine, unless `allow_insecure_http`.
  """
  run = run or RunOptions()
  compiled = load_compiled(path)
  is_vertex = "pipelineInfo" in compiled
  if is_vertex != (target == "vertex"):
    kind = "KFP v2 spec (--target vertex)" if is_vertex else "KFP v1 Argo workflow (--target kubeflow)"
    raise UsageError(f"--file {path} is a {kind}, "
                     f"not one for --target {target}")
  values = parameter_values(declared_parameters(compiled), params)
  check_placeholders(path, compiled)
  _LOG.info("submitting %s with %s", path, values)
  if target == "vertex":
    return submit_vertex(path, where["project"], where["region"], values, run)
  token = bearer_token(token_file, dict(os.environ))
  if token:
    check_token_transport(where["host"], allow_insecure_http)
  return submit_kubeflow(path, where, values, run, token)

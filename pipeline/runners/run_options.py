"""What `submit` checks and prepares before any network call: placeholders left in a
compiled file, the run's options and id, the bearer token, and a workflow with its
caches turned off. Pure, apart from reading the token file; imports no TFX."""

import dataclasses
import datetime
import ipaddress
import json
import os
import re
import secrets
import shlex
import stat
import urllib.parse
from typing import Any, Dict, Iterator, Optional

from pipeline.checks import UsageError

PLACEHOLDER_BUCKET = "YOUR_BUCKET"
# Where Kubeflow mounts a pod's projected service-account token for the Pipelines API
# (audience pipelines.kubeflow.org); kfp 1.8 reads the same path (kfp.auth).
KFP_SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
KFP_SA_TOKEN_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
MAX_TOKEN_BYTES = 64 << 10  # A service-account JWT is ~1 KB; this reads no stray big file whole.
_COMPILE_FIX = "`python -m pipeline compile --image REGISTRY/mnist-tfx:TAG --output-root gs://BUCKET/mnist-tfx`"


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """What a run may set besides parameters, on either target.

  Attributes:
    run_name: The run's display name (default: the pipeline's name).
    caching: False reruns every step. Vertex AI: every task's `cachingOptions`
      (Vertex's reuse of an earlier task's outputs). Kubeflow: TFX's cache in
      each node's IR (reuse of an ML Metadata execution with the same inputs)
      and KFP's own step cache (`max_cache_staleness: P0D`).
    pipeline_root: Where this run's artifacts go instead of the compiled root.
    service_account: Vertex AI: the run-as service account; Kubeflow: the
      Kubernetes service account of the run's pods.
  """
  run_name: Optional[str] = None
  caching: bool = True
  pipeline_root: Optional[str] = None
  service_account: Optional[str] = None


def run_id(name: str, now: Optional[datetime.datetime] = None) -> str:
  """An id for a run named `name`: lower-case, the UTC time and 8 random hex digits, so two
  submits in the same second never collide (e.g. `mnist-tfx-mnist-20261126-101500-1a2b3c4d`);
  a valid Vertex AI job id."""
  stem = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:90] or "run"
  if not stem[0].isalpha():
    stem = "run-" + stem
  now = now or datetime.datetime.now(datetime.timezone.utc)
  return f"{stem}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def _strings(value: Any) -> Iterator[Any]:
  """Every (key, value) pair in a compiled file, JSON strings inside it included."""
  if isinstance(value, dict):
    for key, item in value.items():
      yield key, item
      yield from _strings(item)
  elif isinstance(value, list):
    for item in value:
      yield from _strings(item)
  elif isinstance(value, str) and value.lstrip().startswith("{"):
    try:
      yield from _strings(json.loads(value))
    except ValueError:
      pass


def has_registry_host(image: str) -> bool:
  """Whether an image reference starts with a registry host (`gcr.io/…`, `localhost:5000/…`)."""
  first, slash, _ = image.partition("/")
  return bool(slash) and ("." in first or ":" in first or first == "localhost")


def check_placeholders(path: str, compiled: Dict[str, Any]) -> None:
  """UsageError when `compiled` still names the placeholder bucket or a registry-less image.

  Such a run would only fail inside its pods, after scheduling; this says so first.
  """
  images = set()
  for key, value in _strings(compiled):
    if isinstance(value, str) and PLACEHOLDER_BUCKET in value:
      raise UsageError(f"--file {path} still names gs://{PLACEHOLDER_BUCKET}: "
                       f"recompile with {_COMPILE_FIX} (or, for --target kubeflow, "
                       "--pvc CLAIM or --output-root s3://…)")
    if key in ("image", "image_uri") and isinstance(value, str):
      images.add(value)
  for image in sorted(images):
    if not has_registry_host(image):
      raise UsageError(f"--file {path} uses the image {image}, which names no registry, so "
                       f"no cluster can pull it: push it (make image IMAGE=REGISTRY/"
                       f"mnist-tfx:TAG) and recompile with {_COMPILE_FIX}")


def bearer_token(token_file: Optional[str], environ: Dict[str, str]) -> Optional[str]:
  """The Kubeflow Pipelines bearer token: `--token-file`, else the pod's projected
  service-account token when there is one (path from $KF_PIPELINES_SA_TOKEN_PATH, as
  kfp reads it), else None (a port-forward to a single-user install needs none).

  A --token-file is held to ssh's rule for private keys: no access for group or others.
  The projected token is not: the kubelet mounts it read-only, 0644 by default, in a pod
  of its own. The token itself is in no message.
  """
  path = token_file or environ.get(KFP_SA_TOKEN_ENV) or KFP_SA_TOKEN_PATH
  if not token_file and not os.path.exists(path):
    return None
  try:
    with open(path, "rb") as f:
      mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)  # Of the file read, not a name.
      if token_file and mode & 0o077:
        raise UsageError(f"--token-file {path} is open to group or others (mode {mode:04o}); "
                         f"a token is a password: chmod 600 {shlex.quote(path)}")
      data = f.read(MAX_TOKEN_BYTES + 1)
  except OSError as e:
    raise UsageError(f"--token-file {path}: {e.strerror}; give a file holding the bearer "
                     "token (e.g. `(umask 077; kubectl create token default-editor -n NS "
                     "--audience pipelines.kubeflow.org > token)`)") from None
  if len(data) > MAX_TOKEN_BYTES:
    raise UsageError(f"--token-file {path} is over {MAX_TOKEN_BYTES >> 10} KiB: not a bearer "
                     "token")
  token = data.decode("ascii", "replace").strip()
  if not token:
    raise UsageError(f"--token-file {path} is empty; write the bearer token into it")
  if "\ufffd" in token or any(c.isspace() for c in token):
    raise UsageError(f"--token-file {path}: a bearer token is one word of ASCII; write the "
                     "token alone into it")
  return token


def check_token_transport(host: str, allow_insecure_http: bool) -> None:
  """UsageError unless a bearer token sent to `host` stays off the open network: https://,
  plain http:// only to this machine (a port-forward), or `allow_insecure_http`."""
  parts = urllib.parse.urlsplit(host if "://" in host else "http://" + host)
  if parts.scheme == "https" or allow_insecure_http or _is_loopback(parts.hostname or ""):
    return
  raise UsageError(f"--host {host}: the bearer token would travel unencrypted over "
                   f"{parts.scheme}:// to another machine; use https://, a port-forward to "
                   "http://127.0.0.1:PORT, or --allow-insecure-http on a network you trust")


def _is_loopback(hostname: str) -> bool:
  """`localhost` or a loopback address (127.0.0.0/8, ::1); names are not resolved."""
  if hostname == "localhost":
    return True
  try:
    return ipaddress.ip_address(hostname).is_loopback
  except ValueError:
    return False


def without_cache(workflow: Dict[str, Any]) -> Dict[str, Any]:
  """A copy of an Argo workflow from KubeflowDagRunner with every cache turned off:
  TFX's (each node IR's `cachingOptions`) and KFP's step cache (`max_cache_staleness`)."""
  workflow = json.loads(json.dumps(workflow))
  for template in workflow["spec"]["templates"]:
    if "container" not in template:
      continue
    args = template["container"]["args"]
    ir_at = args.index("--tfx_ir") + 1
    ir = json.loads(args[ir_at])
    for node in ir["nodes"]:
      options = node["pipelineNode"].setdefault("executionOptions", {})
      options["cachingOptions"] = {"enableCache": False}
    args[ir_at] = json.dumps(ir, indent=2, sort_keys=True)
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("labels", {})["pipelines.kubeflow.org/enable_caching"] = "false"
    metadata.setdefault("annotations", {})["pipelines.kubeflow.org/max_cache_staleness"] = "P0D"
  return workflow

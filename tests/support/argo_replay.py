"""Replays a compiled Argo workflow (a KFP v1 package) on this machine, the way Argo runs it.

Parameters come from `spec.arguments` (overridden as `argo submit -p` or a KFP
run's parameters would), the entrypoint's DAG gives the order, and each task
runs its template's exact container `command` + `args` in a subprocess, with
`{{inputs.parameters.*}}` substituted and the container's environment built as
the pod's would be: `env` values, the downward API's `fieldRef`s from the pod's
metadata, and `envFrom` config maps. What the pod would write to its output
artifact paths goes under a per-step stand-in for the container's `/` (root's, with a
world-writable `tmp/` as in the image), and a step that leaves one missing fails, as
Argo fails it. With `Cluster.as_pod_user`, each step runs as the user its container's
securityContext names (`pod_user`), as the kubelet starts it.
"""

import dataclasses
import os
import shutil
import re
import signal
import subprocess
import time
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

_PARAMETER = re.compile(r"\{\{inputs\.parameters\.([\w-]+)\}\}")
_LABEL = re.compile(r"metadata\.labels\['(.+)'\]")


@dataclasses.dataclass
class StepResult:
  name: str
  returncode: int
  seconds: float
  log: str = ""


def dag_order(tasks: List[Dict[str, Any]]) -> List[str]:
  """Task names such that every task comes after its `dependencies`."""
  deps = {t["name"]: set(t.get("dependencies", [])) for t in tasks}
  done: List[str] = []
  while len(done) < len(deps):
    ready = sorted(n for n, d in deps.items() if n not in done and d <= set(done))
    if not ready:
      raise ValueError(f"dependency cycle among {sorted(set(deps) - set(done))}")
    done.extend(ready)
  return done


def substitute(text: str, parameters: Mapping[str, str]) -> str:
  """`{{inputs.parameters.NAME}}` replaced; an unknown name raises, as Argo rejects it."""
  def value(match: re.Match) -> str:
    if match.group(1) not in parameters:
      raise ValueError(f"unresolved {match.group(0)}")
    return parameters[match.group(1)]
  return _PARAMETER.sub(value, text)


def pod_env(container: Dict[str, Any], pod: Dict[str, Any],
            config_maps: Mapping[str, Mapping[str, str]],
            secrets: Mapping[str, Mapping[str, str]] = ()) -> Dict[str, str]:
  """The container's environment: `envFrom` config maps first, then `env` over them
  (values, `fieldRef`s of the pod, `secretKeyRef`s into `secrets`)."""
  secrets = dict(secrets)
  env: Dict[str, str] = {}
  for source in container.get("envFrom", []):
    ref = source["configMapRef"]
    if ref["name"] not in config_maps and not ref.get("optional"):
      raise ValueError(f"config map {ref['name']} does not exist")
    env.update(config_maps.get(ref["name"], {}))
  for var in container.get("env", []):
    if "value" in var:
      env[var["name"]] = var["value"]
      continue
    if "secretKeyRef" in var["valueFrom"]:
      ref = var["valueFrom"]["secretKeyRef"]
      env[var["name"]] = secrets[ref["name"]][ref["key"]]  # A missing secret fails the pod.
      continue
    path = var["valueFrom"]["fieldRef"]["fieldPath"]
    label = _LABEL.fullmatch(path)
    env[var["name"]] = (pod["labels"].get(label.group(1), "") if label
                        else pod[path.split(".", 1)[1]])
  return env


def _step_parameters(task: Dict[str, Any], dag_inputs: Mapping[str, str]) -> Dict[str, str]:
  return {p["name"]: substitute(p["value"], dag_inputs)
          for p in task.get("arguments", {}).get("parameters", [])}


def _run_logged(argv: List[str], cwd: str, env: Mapping[str, str], log_path: str,
                timeout_s: float) -> int:
  """Runs a step's container command, its output into `log_path`; 124 when it timed out."""
  with open(log_path, "wb") as log:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
      return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
      os.killpg(proc.pid, signal.SIGKILL)  # The step and the Beam workers it started.
      proc.wait()
      log.write(f"\ntimed out after {timeout_s} s\n".encode())
      return 124


@dataclasses.dataclass
class Cluster:
  """What the pods of a run see: config maps and secrets by name, and the host's env;
  `as_pod_user`: steps run as their securityContext's user."""
  config_maps: Mapping[str, Mapping[str, str]]
  base_env: Mapping[str, str]
  secrets: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
  as_pod_user: bool = False
  # A container engine's `run` command line up to the image (e.g. podman run --rm -v ...):
  # each step then runs in `image` itself, its /tmp the stand-in's tmp/.
  engine: Sequence[str] = ()
  image: str = ""


def in_container(cluster: Cluster, argv: List[str], pod_vars: Sequence[str], tmp: str,
                 user: Optional[Tuple[int, int]]) -> List[str]:
  """`argv` run in `cluster.image`, with the pod's variables and, if given, its user."""
  return [*cluster.engine, "-v", f"{tmp}:/tmp", *[f"--env={name}" for name in pod_vars],
          *([f"--user={user[0]}:{user[1]}"] if user else []), cluster.image, *argv]


def pod_user(container: Dict[str, Any]) -> Optional[Tuple[int, int]]:
  """(uid, gid) the container's securityContext runs it as; None if it names none.

  Like the kubelet, refuses runAsNonRoot without a non-zero numeric runAsUser.
  """
  context = container.get("securityContext", {})
  uid = context.get("runAsUser")
  if context.get("runAsNonRoot") and not uid:
    raise ValueError("runAsNonRoot without a non-zero runAsUser: the kubelet refuses the pod")
  return None if uid is None else (uid, context.get("runAsGroup", uid))


def as_user(argv: List[str], uid: int, gid: int) -> List[str]:
  """`argv` run as uid:gid with no supplementary groups (setpriv, from root).

  CAP_DAC_READ_SEARCH, and no other capability, stands in for an image whose files are
  world-readable: this machine's Python may sit under a root-only directory (/root). Every
  write is still checked as uid:gid.
  """
  if os.geteuid() != 0:  # Already not root: the step runs as this user.
    return argv
  return [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={gid}",
          "--clear-groups", "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
          "--", *argv]


def _container_root(step_dir: str, paths: Sequence[str]) -> Dict[str, str]:
  """Each output path under `step_dir/fs`, the container's `/`: root-owned, but `tmp/`
  world-writable (sticky), as in the image."""
  root = os.path.join(step_dir, "fs")
  os.makedirs(os.path.join(root, "tmp"))
  os.chmod(os.path.join(root, "tmp"), 0o1777)
  local = {path: os.path.join(root, path.lstrip("/")) for path in paths}
  for path in local.values():
    os.makedirs(os.path.dirname(path), exist_ok=True)
  return local


def _pod(template: Dict[str, Any], workflow_name: str, run_id: str) -> Dict[str, Any]:
  """The metadata a step's pod gets: Argo's and KFP's labels over the template's."""
  return {"name": f"{workflow_name}-{uuid.uuid4().int % 10**10}", "uid": str(uuid.uuid4()),
          "namespace": "kubeflow",
          "labels": {**template.get("metadata", {}).get("labels", {}),
                     "workflows.argoproj.io/workflow": workflow_name, "pipeline/runid": run_id}}


def run_step(template: Dict[str, Any], step_inputs: Mapping[str, str], pod: Dict[str, Any],
             cluster: Cluster, step_dir: str, cwd: str, timeout_s: float) -> Tuple[int, str]:
  """Runs one container template as its pod would; returns (exit status, log)."""
  container = template["container"]
  os.makedirs(step_dir)
  outputs = _container_root(step_dir, [a["path"] for a in
                                       template.get("outputs", {}).get("artifacts", [])])
  argv = [substitute(a, step_inputs) for a in container["command"] + container["args"]]
  user = pod_user(container) if cluster.as_pod_user else None
  variables = pod_env(container, pod, cluster.config_maps, cluster.secrets)
  if cluster.engine:  # The paths are the container's own: its /tmp is the stand-in's tmp/.
    argv = in_container(cluster, argv, sorted(variables), os.path.join(step_dir, "fs", "tmp"),
                        user)
  else:
    argv = [outputs.get(a, a) for a in argv]
    argv = as_user(argv, *user) if user else argv
  env = {**cluster.base_env, **variables}
  returncode = _run_logged(argv, cwd, env, os.path.join(step_dir, "log.txt"), timeout_s)
  with open(os.path.join(step_dir, "log.txt"), errors="replace") as f:
    log = f.read()
  missing = [path for path, local in outputs.items() if not os.path.exists(local)]
  if not returncode and missing:  # Argo fails a step whose output artifact is missing.
    return 1, log + f"\noutput artifact(s) not written: {missing}"
  return returncode, log


def run_workflow(workflow: Dict[str, Any], parameters: Mapping[str, str], run_id: str,
                 cluster: Cluster, work_dir: str, cwd: str, timeout_s: float = 600,
                 only: Sequence[str] = ()) -> List[StepResult]:
  """Runs every step of `workflow`'s entrypoint DAG (or the steps named in `only`); stops
  at the first that fails.

  `run_id` is the KFP run's id (the `pipeline/runid` label); the workflow's
  name is `generateName` plus a random suffix, as Argo names it.
  """
  spec = workflow["spec"]
  templates = {t["name"]: t for t in spec["templates"]}
  values = {p["name"]: str(p["value"]) for p in spec["arguments"]["parameters"]}
  unknown = set(parameters) - set(values)
  if unknown:
    raise ValueError(f"the workflow has no parameter(s) {sorted(unknown)}")
  values.update({k: str(v) for k, v in parameters.items()})
  workflow_name = workflow["metadata"]["generateName"] + uuid.uuid4().hex[:5]
  tasks = {t["name"]: t for t in templates[spec["entrypoint"]]["dag"]["tasks"]}
  results: List[StepResult] = []
  for name in [n for n in dag_order(list(tasks.values())) if not only or n in only]:
    template = templates[tasks[name]["template"]]
    start = time.monotonic()
    returncode, log = run_step(template, _step_parameters(tasks[name], values),
                               _pod(template, workflow_name, run_id), cluster,
                               os.path.join(work_dir, name), cwd, timeout_s)
    results.append(StepResult(name, returncode, time.monotonic() - start, log))
    print(f"{run_id} {name}: exit {returncode}, {results[-1].seconds:.1f} s", flush=True)
    if returncode:
      break
  return results

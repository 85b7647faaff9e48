"""deploy/tfjob.yaml and deploy/tfjob-gpu.yaml run this project's task, with arguments the
task accepts, in pod templates the Kubernetes API accepts."""

import os

import pytest
import yaml
from kubernetes import client

from trainer_module import task

DEPLOY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "deploy")
MANIFEST = os.path.join(DEPLOY, "tfjob.yaml")
GPU_MANIFEST = os.path.join(DEPLOY, "tfjob-gpu.yaml")


def test_every_replica_runs_the_same_valid_task_command():
  with open(MANIFEST) as f:
    job = yaml.safe_load(f)
  assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
  replicas = job["spec"]["tfReplicaSpecs"]
  assert {kind: spec["replicas"] for kind, spec in replicas.items()} == {
      "Chief": 1, "Worker": 3, "PS": 3}
  containers = [spec["template"]["spec"]["containers"] for spec in replicas.values()]
  assert all(len(c) == 1 and c[0]["name"] == "tensorflow" for c in containers)
  commands = {tuple(c[0]["command"]) + tuple(c[0]["args"]) for c in containers}
  [command] = commands  # One command for every replica.
  assert command[:3] == ("python", "-m", "trainer_module.task")
  args = task.build_parser().parse_args(list(command[3:]))
  assert args.distribute == "parameter_server"  # PS replicas need the ps strategy or none.
  assert args.data_dir.startswith("gs://") and args.export_dir.startswith("gs://")
  assert job["spec"]["runPolicy"]["cleanPodPolicy"] == "Running"


def _as_api_object(template: dict) -> client.V1PodTemplateSpec:
  """The template read by the Kubernetes client's own models (the API's schema)."""
  api = client.ApiClient()
  return api._ApiClient__deserialize(template, "V1PodTemplateSpec")


@pytest.mark.parametrize("path", [MANIFEST, GPU_MANIFEST])
def test_pod_templates_hold_only_fields_the_kubernetes_api_knows(path):
  with open(path) as f:
    job = yaml.safe_load(f)
  api = client.ApiClient()
  for kind, spec in job["spec"]["tfReplicaSpecs"].items():
    template = spec["template"]
    # A misspelled or misplaced field is dropped on the way in, so the round trip differs.
    assert api.sanitize_for_serialization(_as_api_object(template)) == template, kind


def test_gpu_job_gives_the_chief_and_workers_a_gpu_and_runs_the_same_task():
  with open(GPU_MANIFEST) as f:
    job = yaml.safe_load(f)
  replicas = job["spec"]["tfReplicaSpecs"]
  assert {kind: spec["replicas"] for kind, spec in replicas.items()} == {
      "Chief": 1, "Worker": 3, "PS": 3}
  containers = {kind: spec["template"]["spec"]["containers"][0]
                for kind, spec in replicas.items()}
  gpus = {kind: c["resources"]["limits"].get("nvidia.com/gpu") for kind, c in containers.items()}
  assert gpus == {"Chief": "1", "Worker": "1", "PS": None}
  assert {c["image"] for c in containers.values()} == {"mnist-tfx:0.1.0-gpu"}
  [command] = {tuple(c["command"] + c["args"]) for c in containers.values()}
  args = task.build_parser().parse_args(list(command[3:]))
  assert command[:3] == ("python", "-m", "trainer_module.task")
  assert args.distribute == "parameter_server"

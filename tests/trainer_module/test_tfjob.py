"""deploy/tfjob.yaml runs this project's task, with arguments the task accepts."""

import os

import yaml

from trainer_module import task

MANIFEST = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "deploy",
                        "tfjob.yaml")


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

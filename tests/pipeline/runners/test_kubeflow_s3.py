"""`compile --target kubeflow --s3-endpoint URL [--s3-secret NAME]`: every step of the Argo
workflow gets the endpoint, the keys from the secret, and the entrypoint that registers s3."""

import json
import os
import sys

import pytest
import yaml

from pipeline import cli
from tests.support.moto_s3 import BUCKET, keys, s3_server
from tests.support.argo_replay import Cluster, run_workflow
from tests.support.mlmd_grpc import MetadataService

ENDPOINT = "http://minio-service.kubeflow:9000"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _containers(tmp_path, *flags, root="s3://mlpipeline/mnist-tfx"):
  out = str(tmp_path / "kubeflow.yaml")
  cli.main(["compile", "--target", "kubeflow", "--output", out, "--output-root", root, *flags])
  with open(out) as f:
    # This checkout as the image (the Dockerfile's /app).
    workflow = yaml.safe_load(f.read().replace("/app/", REPO + "/"))
  return workflow, [t["container"] for t in workflow["spec"]["templates"] if "container" in t]


def test_every_step_gets_the_endpoint_the_secret_and_the_s3_entrypoint(tmp_path):
  workflow, containers = _containers(tmp_path, "--s3-endpoint", ENDPOINT)
  assert len(containers) == 9
  for container in containers:
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_ENDPOINT_URL"]["value"] == env["S3_ENDPOINT"]["value"] == ENDPOINT
    assert env["S3_USE_HTTPS"]["value"] == env["S3_VERIFY_SSL"]["value"] == "0"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {"secretKeyRef": {
        "name": "mlpipeline-minio-artifact", "key": "accesskey"}}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {"secretKeyRef": {
        "name": "mlpipeline-minio-artifact", "key": "secretkey"}}
    assert container["command"] == ["python", "-m", "components.kfp_entrypoint"]
  parameters = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
  assert parameters["pipeline-root"].startswith("s3://mlpipeline/mnist-tfx/")
  assert parameters["data_dir"] == "s3://mlpipeline/mnist-tfx/idx/fashion_mnist"
  # Beam's worker processes import tensorflow-io too.
  [statistics] = [c for c in containers if "StatisticsGen" in c["args"]]
  ir = json.loads(statistics["args"][statistics["args"].index("--tfx_ir") + 1])
  [spec] = ir["deploymentConfig"]["executorSpecs"].values()
  assert "--beam_plugins=tensorflow_io" in spec["beamPipelineArgs"]


def test_s3_secret_names_another_secret(tmp_path):
  _, containers = _containers(tmp_path, "--s3-endpoint", ENDPOINT, "--s3-secret", "team-minio")
  for container in containers:
    refs = [e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})]
    assert refs == ["team-minio", "team-minio"]


@pytest.mark.extended
@pytest.mark.slow
def test_a_stock_tfx_step_writes_to_s3_with_the_pods_env_only(tmp_path):
  """The compiled SchemaGen step (TFX's own ImportSchemaGen, which imports nothing of this
  project) run as its pod would: endpoint from the env, keys from the secret, s3 registered
  by components.kfp_entrypoint. It copies the schema into the bucket."""
  with s3_server() as env:
    workflow, _ = _containers(tmp_path, "--s3-endpoint", env["AWS_ENDPOINT_URL"],
                              root=f"s3://{BUCKET}/mnist-tfx")
    # Nothing S3 from this process: the pod's env alone must carry it.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    base["PATH"] = os.path.dirname(sys.executable) + os.pathsep + base["PATH"]
    secret = {"accesskey": env["AWS_ACCESS_KEY_ID"], "secretkey": env["AWS_SECRET_ACCESS_KEY"]}
    with MetadataService(str(tmp_path / "mlmd.db")) as service:
      config_maps = service.config_maps()
      cluster = Cluster(config_maps, base, {"mlpipeline-minio-artifact": secret})
      [result] = run_workflow(workflow, {}, "run-s3", cluster, str(tmp_path / "run"), REPO,
                              timeout_s=600, only=["schemagen"])
      assert result.returncode == 0, result.log[-3000:]
      schemas = {k: size for k, size in keys(
          env, "mnist-tfx/pipelines/mnist-tfx-fashion-mnist/SchemaGen/").items()
                 if k.endswith("/schema.pbtxt")}
  with open(os.path.join(REPO, "pipeline", "data", "schema.pbtxt"), "rb") as f:
    assert list(schemas.values()) == [len(f.read())], schemas

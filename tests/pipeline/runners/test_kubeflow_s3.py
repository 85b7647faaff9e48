"""`compile --target kubeflow --s3-endpoint URL [--s3-secret NAME]`: every step of the Argo
workflow gets the endpoint, the keys from the secret, and the entrypoint that registers s3."""

import json

import yaml

from pipeline import cli

ENDPOINT = "http://minio-service.kubeflow:9000"


def _containers(tmp_path, *flags):
  out = str(tmp_path / "kubeflow.yaml")
  cli.main(["compile", "--target", "kubeflow", "--output", out,
            "--output-root", "s3://mlpipeline/mnist-tfx", *flags])
  with open(out) as f:
    workflow = yaml.safe_load(f)
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

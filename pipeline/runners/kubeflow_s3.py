"""MinIO / S3 storage for the open-source Kubeflow Pipelines target.

`s3_operator` is a KubeflowDagRunner pipeline operator function (an OpFunc):
add it to `KubeflowDagRunnerConfig.pipeline_operator_funcs` and every step gets
the endpoint (`pipeline.data.s3.endpoint_env`), the credentials from a Kubernetes
secret, and an entrypoint that registers tensorflow-io's s3 filesystem before
TFX's own runs (`components.kfp_entrypoint`). Open-source KFP keeps its
artifacts in MinIO, with the keys in the secret `mlpipeline-minio-artifact`.
"""

from typing import Callable

from kfp import dsl
from kubernetes import client as k8s

from pipeline.config import DEFAULT_S3_SECRET
from pipeline.data.s3 import endpoint_env

# Secret key -> environment variable (the keys of KFP's MinIO secret).
SECRET_KEYS = {"accesskey": "AWS_ACCESS_KEY_ID", "secretkey": "AWS_SECRET_ACCESS_KEY"}
ENTRYPOINT = ["python", "-m", "components.kfp_entrypoint"]


def s3_operator(endpoint_url: str, secret: str = DEFAULT_S3_SECRET
                ) -> Callable[[dsl.ContainerOp], dsl.ContainerOp]:
  """An OpFunc that points a step at an S3 endpoint, with credentials from `secret`.

  Raises ValueError (one line naming the flag) for an endpoint that is not a URL.
  """
  env = endpoint_env(endpoint_url)
  if not secret:
    raise ValueError("--s3-secret must name a Kubernetes secret with the keys "
                     f"{' and '.join(SECRET_KEYS)}")

  def add_s3(op: dsl.ContainerOp) -> dsl.ContainerOp:
    for name, value in sorted(env.items()):
      op.container.add_env_variable(k8s.V1EnvVar(name=name, value=value))
    for key, name in SECRET_KEYS.items():
      op.container.add_env_variable(k8s.V1EnvVar(name=name, value_from=k8s.V1EnvVarSource(
          secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=key))))
    op.container.command = list(ENTRYPOINT)
    return op
  return add_s3

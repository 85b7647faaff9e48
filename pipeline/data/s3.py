"""`s3://` paths (AWS S3, MinIO) for TensorFlow's and Beam's file IO.

Beam's S3 filesystem (boto3, which the lock carries) is registered whenever Beam
loads, and boto3 reads the endpoint and credentials from the environment:
`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`.

TensorFlow 2.15 has no s3 filesystem of its own. tensorflow-io's plugin adds it
to `tf.io.gfile` (and so to TFX's `fileio`, tf.data and SavedModel loading) in
the process that imports `tensorflow_io`, and reads `S3_ENDPOINT`,
`S3_USE_HTTPS`, `S3_VERIFY_SSL` and `AWS_REGION`. So every process that touches
an s3:// path must import it: `enable_s3` does, only when a path is s3://, so
runs that do not use S3 never pay for it. Beam's worker processes import it
through `S3_BEAM_ARGS`.
"""

from typing import Dict, Iterable, Tuple

SCHEME = "s3://"
# Beam imports these modules in each worker process it starts (multi-processing mode).
S3_BEAM_ARGS: Tuple[str, ...] = ("--beam_plugins=tensorflow_io",)


def uses_s3(paths: Iterable[str]) -> bool:
  """True when any of `paths` (or any string holding a path, such as a JSON argument)
  names an s3:// location."""
  return any(SCHEME in path for path in paths)


def enable_s3(paths: Iterable[str]) -> bool:
  """Registers tensorflow-io's s3 filesystem in this process when any path is s3://.

  Returns whether it did. Importing tensorflow_io loads TensorFlow, so a process
  that names no s3:// path never calls it.
  """
  if not uses_s3(paths):
    return False
  import tensorflow_io  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
  return True


def with_s3_beam_args(beam_args: Iterable[str], paths: Iterable[str]) -> Tuple[str, ...]:
  """`beam_args`, plus what Beam's workers need for s3:// when any of `paths` is s3://."""
  args = tuple(beam_args)
  if not uses_s3(paths):
    return args
  return args + tuple(a for a in S3_BEAM_ARGS if a not in args)


def endpoint_env(endpoint_url: str) -> Dict[str, str]:
  """The environment that points boto3 and tensorflow-io at an S3-compatible endpoint.

  `endpoint_url` is `http://host:port` or `https://host:port` (MinIO's, say).
  Credentials are not here: they come from `AWS_ACCESS_KEY_ID` and
  `AWS_SECRET_ACCESS_KEY`, set from a secret.
  """
  if not endpoint_url.startswith(("http://", "https://")):
    raise ValueError(f"--s3-endpoint {endpoint_url!r}: give a URL such as "
                     "http://minio-service.kubeflow:9000")
  https = endpoint_url.startswith("https://")
  return {"AWS_ENDPOINT_URL": endpoint_url, "S3_ENDPOINT": endpoint_url,
          "S3_USE_HTTPS": "1" if https else "0", "S3_VERIFY_SSL": "1" if https else "0",
          # MinIO ignores the region, but both clients need one to sign requests.
          "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}

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

import os
from typing import Dict, Iterable, MutableMapping, Tuple

SCHEME = "s3://"
# Both clients bounded, so a dead endpoint fails a run in seconds, not minutes: without
# them, TFX's cleanup (`tf.io.gfile.rmtree`) against a killed server retried for about
# 240 s. tensorflow-io reads the first two, boto3 (Beam's S3 IO) the last two.
CLIENT_LIMITS = {"S3_CONNECT_TIMEOUT_MSEC": "5000", "S3_REQUEST_TIMEOUT_MSEC": "30000",
                 "AWS_MAX_ATTEMPTS": "3", "AWS_RETRY_MODE": "standard"}
# The check before a run: one short try, so an unreachable endpoint is one line at once.
_CHECK_TIMEOUT_S = 5


class S3Error(ValueError):
  """An s3:// location cannot be used; the message names it and what to check."""
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
  bound_clients(os.environ)  # Before the plugin loads and reads them.
  import tensorflow_io  # noqa: F401
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
  return {**CLIENT_LIMITS, "AWS_ENDPOINT_URL": endpoint_url, "S3_ENDPOINT": endpoint_url,
          "S3_USE_HTTPS": "1" if https else "0", "S3_VERIFY_SSL": "1" if https else "0",
          # MinIO ignores the region, but both clients need one to sign requests.
          "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


def bound_clients(environ: MutableMapping[str, str]) -> None:
  """Sets `CLIENT_LIMITS` in `environ` where the user has not set them."""
  for name, value in CLIENT_LIMITS.items():
    environ.setdefault(name, value)


def check_bucket(url: str, environ: MutableMapping[str, str] = os.environ) -> None:
  """Raises S3Error, one line naming the bucket or the endpoint and what to check, when the
  bucket of `url` cannot be listed with the credentials in `environ`. Costs one request."""
  import boto3
  from botocore import exceptions
  from botocore.config import Config
  bucket = url[len(SCHEME):].split("/", 1)[0]
  endpoint = environ.get("AWS_ENDPOINT_URL") or None
  where = f"s3://{bucket}" + (f" at {endpoint}" if endpoint else "")
  config = Config(connect_timeout=_CHECK_TIMEOUT_S, read_timeout=_CHECK_TIMEOUT_S,
                  retries={"max_attempts": 1, "mode": "standard"})
  try:
    client = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        region_name=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or
        "us-east-1").client("s3", endpoint_url=endpoint, config=config)
    client.head_bucket(Bucket=bucket)
  except (exceptions.EndpointConnectionError, exceptions.ConnectTimeoutError,
          exceptions.ReadTimeoutError) as e:
    raise S3Error(f"{where}: the endpoint does not answer ({type(e).__name__}); check "
                  "AWS_ENDPOINT_URL and S3_ENDPOINT, and that the server is up") from None
  except exceptions.NoCredentialsError:
    raise S3Error(f"{where}: no credentials; set AWS_ACCESS_KEY_ID and "
                  "AWS_SECRET_ACCESS_KEY") from None
  except exceptions.ClientError as e:
    code = str(e.response.get("Error", {}).get("Code", ""))
    if code in ("404", "NoSuchBucket"):
      raise S3Error(f"{where}: the bucket does not exist; create it, or check the "
                    "name") from None
    if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
      raise S3Error(f"{where}: access denied ({code}); check AWS_ACCESS_KEY_ID, "
                    "AWS_SECRET_ACCESS_KEY and the bucket's policy") from None
    raise S3Error(f"{where}: {code or e}") from None
  except exceptions.BotoCoreError as e:
    raise S3Error(f"{where}: {e}") from None

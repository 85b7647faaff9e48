"""A real S3-compatible server on 127.0.0.1 for tests: moto in server mode, in this process.

`s3_server()` yields the environment that points boto3 (Beam's S3 filesystem)
and tensorflow-io at it, with one bucket, `BUCKET`, created.

The server answers from a thread of this process, so TensorFlow's S3 calls must
come from another process: `tf.io.TFRecordWriter` holds the GIL while it talks
to S3, and hung here against a server in its own process.
"""

import contextlib
from typing import Dict, Iterator

from pipeline.data.s3 import endpoint_env

BUCKET = "mnist-tfx-test"


@contextlib.contextmanager
def s3_server() -> Iterator[Dict[str, str]]:
  """Starts moto's S3 server on a free port; yields the env for clients; stops it."""
  from moto.server import ThreadedMotoServer
  server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
  server.start()
  try:
    host, port = server.get_host_and_port()
    env = {**endpoint_env(f"http://{host}:{port}"), "AWS_ACCESS_KEY_ID": "test-key",
           "AWS_SECRET_ACCESS_KEY": "test-secret"}
    client(env).create_bucket(Bucket=BUCKET)
    yield env
  finally:
    server.stop()


def client(env: Dict[str, str]):
  """A boto3 S3 client for the server `env` points at."""
  import boto3
  return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def keys(env: Dict[str, str], prefix: str = "") -> Dict[str, int]:
  """Object key -> size, for every object under `prefix` in `BUCKET`."""
  pages = client(env).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
  return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}

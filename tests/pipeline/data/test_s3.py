"""s3:// paths against a real S3 server on 127.0.0.1 (moto): stage-data's copy, the
endpoint settings, and the one-line errors of the flags."""

import hashlib
import os
import subprocess
import sys

import pytest

from pipeline.data import contract
from pipeline.data.datasets import DatasetSpec
from pipeline.data.s3 import endpoint_env, uses_s3, with_s3_beam_args
from pipeline.data.sources import DirectorySource
from tests.support.moto_s3 import BUCKET, client, keys, s3_server

IDX_FILES = contract.all_idx_files()


@pytest.fixture
def s3_env(monkeypatch):
  with s3_server() as env:
    for name, value in env.items():
      monkeypatch.setenv(name, value)
    yield env


def test_stage_data_copies_to_s3_and_checks_the_copies(s3_env, idx_dir, tmp_path):
  from pipeline.data.stage import stage_dataset
  digests = {}
  for name in IDX_FILES:
    with open(os.path.join(idx_dir, name), "rb") as f:
      digests[name] = hashlib.sha256(f.read()).hexdigest()
  spec = DatasetSpec(name="tiny", sha256=digests, mirrors=())
  dest = f"s3://{BUCKET}/mnist-tfx/idx/tiny"
  staged = stage_dataset(spec, dest, str(tmp_path / "cache"), sources=[DirectorySource(idx_dir)])
  assert staged == [f"{dest}/{name}" for name in IDX_FILES]
  # Each file whole, nothing temporary left beside it.
  assert sorted(keys(s3_env, "mnist-tfx/idx/tiny/")) == sorted(
      f"mnist-tfx/idx/tiny/{name}" for name in IDX_FILES)
  for name in IDX_FILES:
    body = client(s3_env).get_object(Bucket=BUCKET, Key=f"mnist-tfx/idx/tiny/{name}")["Body"]
    assert hashlib.sha256(body.read()).hexdigest() == digests[name]


def test_s3_settings_are_added_only_for_s3_paths():
  assert uses_s3(["s3://b/x"]) and not uses_s3(["gs://b/x", "/tmp/x"])
  assert with_s3_beam_args(("--a",), ["/tmp/x"]) == ("--a",)
  assert with_s3_beam_args(("--a",), ["s3://b/x"]) == ("--a", "--beam_plugins=tensorflow_io")
  assert endpoint_env("http://minio:9000")["S3_USE_HTTPS"] == "0"
  assert endpoint_env("https://s3.example.com")["S3_VERIFY_SSL"] == "1"
  with pytest.raises(ValueError, match="--s3-endpoint 'minio:9000': give a URL"):
    endpoint_env("minio:9000")


@pytest.mark.parametrize("command, message", [
    (["compile", "--target", "vertex", "--s3-endpoint", "http://minio:9000"],
     "--s3-endpoint and --s3-secret are for --target kubeflow"),
    (["compile", "--target", "kubeflow", "--s3-secret", "mine"],
     "--s3-secret needs --s3-endpoint URL"),
    (["compile", "--target", "kubeflow", "--s3-endpoint", "minio:9000"],
     "--s3-endpoint 'minio:9000': give a URL such as http://minio-service.kubeflow:9000"),
    (["run", "--output-root", "gs://bucket/x"],
     "--output-root gs://bucket/x: a local run writes to a directory or to s3://BUCKET/PATH"),
    (["clean", "--output-root", "s3://bucket/x"],
     "--output-root s3://bucket/x: clean works on local output roots only"),
])
def test_s3_flags_fail_in_one_line_before_anything_is_written(tmp_path, command, message):
  output = ["--output", str(tmp_path / "p.yaml")] if command[0] == "compile" else []
  proc = subprocess.run([sys.executable, "-m", "pipeline", *command, *output],
                        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
  [line] = proc.stderr.strip().splitlines()
  assert proc.returncode == 1 and line.startswith(f"error: {message}"), proc.stderr
  assert not os.listdir(tmp_path)

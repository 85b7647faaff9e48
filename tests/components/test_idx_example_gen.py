"""The custom ExampleGen's executor, driven like TFX drives it."""

import glob
import gzip
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import tensorflow as tf
from tfx.components.example_gen import utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.idx_example_gen import Executor, make_idx_example_gen
from pipeline.data import contract, idx
from pipeline.data.examples import EmptySplitError
from tests.conftest import BEAM_TEST_ARGS, expected_split_counts, write_dataset


def _records(split_dir: str) -> list:
  files = glob.glob(os.path.join(split_dir, "*.gz"))
  return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _counts(examples) -> dict:
  return {split: len(_records(os.path.join(examples.uri, f"Split-{split}")))
          for split in artifact_utils.decode_split_names(examples.split_names)}


def _do(idx_dir, tmp_path, beam_args):
  """Runs the executor as TFX does; returns the Examples artifact."""
  component = make_idx_example_gen(idx_dir)
  input_config = component.exec_properties[standard_component_specs.INPUT_CONFIG_KEY]
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / "examples")
  exec_properties = {
      standard_component_specs.INPUT_BASE_KEY: idx_dir,
      standard_component_specs.INPUT_CONFIG_KEY: input_config,
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
          example_gen_pb2.Output()),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY:
          component.exec_properties[standard_component_specs.OUTPUT_DATA_FORMAT_KEY],
  }
  Executor(Executor.Context(beam_pipeline_args=beam_args)).Do(
      {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
  return examples


def test_executor_do_carves_validation_from_train(idx_dir, tmp_path):
  examples = _do(idx_dir, tmp_path, BEAM_TEST_ARGS)
  assert artifact_utils.decode_split_names(examples.split_names) == [
      "train", "validation", "test"]
  counts = expected_split_counts(idx_dir)
  assert counts["validation"] > 0 and counts["train"] + counts["validation"] == 40
  assert _counts(examples) == counts
  train = set(_records(os.path.join(examples.uri, "Split-train")))
  assert not train & set(_records(os.path.join(examples.uri, "Split-validation")))


def test_split_patterns_fingerprint_only_the_idx_files(idx_dir):
  with fileio.open(os.path.join(idx_dir, "README.txt"), "w") as f:
    f.write("not data")
  component = make_idx_example_gen(idx_dir)
  input_config = example_gen_pb2.Input()
  proto_utils.json_to_proto(
      component.exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
  fingerprint, _, _ = utils.calculate_splits_fingerprint_span_and_version(
      idx_dir, input_config.splits)
  # Each split pattern matches its images and labels file, and nothing else.
  for split in ("train", "validation", "test"):
    assert f"split:{split},num_files:2," in fingerprint


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _wait_listening(port, proc, deadline):
  while True:
    assert proc.poll() is None, f"service on port {port} exited with {proc.returncode}"
    with socket.socket() as s:
      if s.connect_ex(("127.0.0.1", port)) == 0:
        return
    assert time.monotonic() < deadline, f"nothing listens on port {port}"
    time.sleep(0.5)


@pytest.fixture
def portable_beam_args(tmp_path):
  """Beam's local job service and an external worker pool: the job API a Flink or Spark
  job server speaks, offline. Yields the arguments that send a pipeline there."""
  job_port, pool_port = _free_port(), _free_port()
  services = [
      subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability."
                        "local_job_service_main", "--port", str(job_port),
                        "--staging_dir", str(tmp_path / "staging")]),
      # The pool starts each SDK worker as `python` from PATH: this venv's.
      subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                        "--service_port", str(pool_port)],
                       env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep
                            + os.environ.get("PATH", "")})]
  try:
    deadline = time.monotonic() + 60
    for port, proc in zip((job_port, pool_port), services):
      _wait_listening(port, proc, deadline)
    yield ["--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}",
           "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}"]
  finally:
    for proc in services:
      proc.kill()
      proc.wait()


@pytest.mark.slow
def test_executor_runs_on_a_portable_job_service(idx_dir, tmp_path, portable_beam_args):
  examples = _do(idx_dir, tmp_path, portable_beam_args)
  assert _counts(examples) == expected_split_counts(idx_dir)


def test_executor_streams_gzip_input(tmp_path):
  idx_dir = str(tmp_path / "gz")
  write_dataset(idx_dir, n_train=40, n_eval=20, gz=True)
  examples = _do(idx_dir, tmp_path, BEAM_TEST_ARGS)
  assert _counts(examples) == expected_split_counts(idx_dir)


def _shards(directory):
  """Split-*/shard name -> decompressed bytes."""
  out = {}
  for path in sorted(glob.glob(os.path.join(directory, "Split-*", "*.gz"))):
    with gzip.open(path) as f:
      out[os.path.relpath(path, directory)] = f.read()
  return out


def test_executor_writes_what_prepare_data_writes_chunk_by_chunk(tmp_path):
  from pipeline.data.prepare import prepare_data
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=12000, n_eval=300, seed=4)  # 3 + 1 chunks of 5000.
  examples = _do(idx_dir, tmp_path, BEAM_TEST_ARGS)
  prepare_data(idx_dir, str(tmp_path / "tfr"), BEAM_TEST_ARGS)
  shards = _shards(examples.uri)
  assert len(shards) == 7  # One shard per chunk and split: no per-example shuffle.
  assert shards == _shards(str(tmp_path / "tfr"))
  assert not [n for n in os.listdir(examples.uri) if n.startswith(".")]  # Counts gathered.
  assert examples.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"


def test_executor_fails_on_an_empty_split_saying_why(tmp_path):
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=60, n_eval=20)
  idx.write_idx(os.path.join(idx_dir, contract.idx_file_name("train", "images")),
                np.zeros((60, 28, 28), np.uint8))  # Identical images: one bucket.
  with pytest.raises(EmptySplitError, match="the validation split came out empty: none of the "
                                            "60 published train images hashed into the "
                                            "validation bucket"):
    _do(idx_dir, tmp_path, BEAM_TEST_ARGS)

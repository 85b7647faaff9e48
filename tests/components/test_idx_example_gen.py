"""The custom ExampleGen's executor, driven like TFX drives it."""

import glob
import os

import tensorflow as tf
from tfx.components.example_gen import utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.idx_example_gen import Executor, make_idx_example_gen
from tests.conftest import BEAM_TEST_ARGS


def _count(split_dir: str) -> int:
  files = glob.glob(os.path.join(split_dir, "*.gz"))
  return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def test_executor_do_writes_both_splits(idx_dir, tmp_path):
  component = make_idx_example_gen(idx_dir)
  input_config = component.exec_properties[standard_component_specs.INPUT_CONFIG_KEY]
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / "examples")
  exec_properties = {
      standard_component_specs.INPUT_BASE_KEY: idx_dir,
      standard_component_specs.INPUT_CONFIG_KEY: input_config,
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
          example_gen_pb2.Output()),
  }
  Executor(Executor.Context(beam_pipeline_args=BEAM_TEST_ARGS)).Do(
      {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)

  assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval"]
  assert _count(os.path.join(examples.uri, "Split-train")) == 40
  assert _count(os.path.join(examples.uri, "Split-eval")) == 20


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
  assert "split:train,num_files:2," in fingerprint
  assert "split:eval,num_files:2," in fingerprint

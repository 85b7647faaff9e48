"""A TFX ExampleGen that reads MNIST-style IDX files.

Use it through `FileBasedExampleGen`; see `make_idx_example_gen`. Each input
split's pattern is `<prefix>-*-ubyte*` (prefix `train` or `t10k`): TFX fingerprints
the files it matches for caching, and the executor reads the `<prefix>-images*` /
`<prefix>-labels*` pair inside `input_base`.
"""

from typing import Any, Dict

import apache_beam as beam
from tfx.components import FileBasedExampleGen
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components import idx
from components.idx_examples import SPLIT_PREFIXES, IdxToExamples


@beam.ptransform_fn
def _IdxToExample(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
    split_pattern: str) -> beam.PCollection:
  """Reads the IDX pair selected by `split_pattern` into serialized tf.Examples."""
  prefix = split_pattern.split("-", 1)[0]
  pair = idx.validate_pair(*idx.find_pair(exec_properties["input_base"], prefix))
  return pipeline | "IdxToExamples" >> IdxToExamples(pair)  # pylint: disable=no-value-for-parameter


class Executor(BaseExampleGenExecutor):
  """ExampleGen executor for IDX image/label file pairs."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _IdxToExample


def make_idx_example_gen(input_base: str) -> FileBasedExampleGen:
  """An ExampleGen emitting `train` (60k) and `eval` (10k) splits from `input_base`."""
  splits = [example_gen_pb2.Input.Split(name=name, pattern=f"{prefix}-*-ubyte*")
            for name, prefix in SPLIT_PREFIXES.items()]
  return FileBasedExampleGen(
      input_base=input_base,
      input_config=example_gen_pb2.Input(splits=splits),
      custom_executor_spec=executor_spec.BeamExecutorSpec(Executor))

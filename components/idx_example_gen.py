"""A TFX ExampleGen that reads MNIST-style IDX files.

Use it through `FileBasedExampleGen`; see `make_idx_example_gen`. Each split's
pattern (`train-*-ubyte*`, `t10k-*-ubyte*`, relative to `input_base`) matches exactly
the images/labels pair it is drawn from: TFX fingerprints those files for caching,
and the executor reads them. `train` and `validation` share the published training
pair; each keeps its own examples (`examples.example_in_split`).
"""

from typing import Any, Dict

import apache_beam as beam
from tfx.components import FileBasedExampleGen
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

from pipeline.data import contract, files, idx
from pipeline.data.examples import IdxToExamples, example_in_split


@beam.ptransform_fn
def _IdxToExample(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
    split_pattern: str) -> beam.PCollection:
  """Reads the IDX pair that `split_pattern` matches in `input_base` into tf.Examples."""
  input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
  pair = idx.pair_from_pattern(files.join(input_base, split_pattern))
  return pipeline | "IdxToExamples" >> IdxToExamples(pair)  # pylint: disable=no-value-for-parameter


class Executor(BaseExampleGenExecutor):
  """ExampleGen executor for IDX image/label file pairs."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _IdxToExample

  def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                             exec_properties: Dict[str, Any]) -> Dict[str, beam.PCollection]:
    """The base class's splits, each keeping only its own examples.

    The transform sees a split's pattern, not its name, so the carving happens here.
    """
    splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
    return {name: examples | f"Carve[{name}]" >> beam.Filter(example_in_split, name)
            for name, examples in splits.items()}


def make_idx_example_gen(data_dir: str) -> FileBasedExampleGen:
  """An ExampleGen emitting the contract's splits (train 55k, validation 5k, test 10k)."""
  splits = [example_gen_pb2.Input.Split(name=split, pattern=contract.split_glob(split))
            for split in contract.SPLITS]
  return FileBasedExampleGen(
      input_base=data_dir,
      input_config=example_gen_pb2.Input(splits=splits),
      custom_executor_spec=executor_spec.BeamExecutorSpec(Executor))

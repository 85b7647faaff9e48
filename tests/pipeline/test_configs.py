"""The typed config: defaults per dataset, validation, derived paths."""

import pytest

from pipeline.configs import DATASET_DEFAULTS, PipelineConfig


def test_dataset_defaults_and_overrides():
  config = PipelineConfig.for_dataset("mnist", model="vgg_like", train_steps=None)
  assert config.train_steps == DATASET_DEFAULTS["mnist"]["train_steps"]
  assert config.model == "vgg_like"
  assert config.pipeline_name == "mnist-tfx-mnist"


def test_paths_derive_from_output_root():
  config = PipelineConfig(output_root="/o", model="cnn")
  assert config.resolved_pipeline_root == "/o/pipelines/mnist-tfx-fashion-mnist"
  assert config.metadata_path == "/o/metadata/mnist-tfx-fashion-mnist/metadata.db"
  assert config.serving_model_dir == "/o/serving_model/mnist-tfx-fashion-mnist/cnn"
  assert PipelineConfig(pipeline_root="gs://b/r").resolved_pipeline_root == "gs://b/r"


@pytest.mark.parametrize("kwargs,message", [
    ({"dataset": "cifar10"}, "unknown dataset 'cifar10'"),
    ({"model": "resnet50"}, "unknown model 'resnet50'; choose one of: cnn, cnn_tf_layers, vgg_like"),
    ({"train_steps": 0}, "train_steps must be positive, got 0"),
    ({"batch_size": -1}, "batch_size must be positive, got -1"),
    ({"accuracy_threshold": 1.5}, r"accuracy_threshold must be in \[0, 1\], got 1.5"),
])
def test_invalid_values_are_named(kwargs, message):
  with pytest.raises(ValueError, match=message):
    PipelineConfig(**kwargs)

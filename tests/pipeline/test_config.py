"""The typed config: per-dataset defaults, validation, the storage layout under a root."""

import pytest

from pipeline.config import ACCURACY_THRESHOLDS, PipelineConfig, config_under_root
from trainer_module.defaults import TRAINING_DEFAULTS
from trainer_module.hparams import HParams, InvalidSetting


def _config(**overrides):
  values = dict(hparams=HParams(train_steps=10, dataset="mnist"), accuracy_threshold=0.5,
                data_dir="/d", pipeline_root="/p", serving_dir="/s")
  values.update(overrides)
  return PipelineConfig(**values)


def test_layout_under_a_root_follows_dataset_and_model():
  config = config_under_root(HParams(train_steps=10, model="vgg_like", dataset="fashion_mnist"),
                             0.9, "gs://b/x/", "gs://b/idx", ("--a",))
  assert config.pipeline_name == "mnist-tfx-fashion-mnist"
  assert config.pipeline_root == "gs://b/x/pipelines/mnist-tfx-fashion-mnist"
  assert config.serving_dir == "gs://b/x/serving_model/mnist-tfx-fashion-mnist/vgg_like"
  assert config.beam_args == ("--a",) and config.data_dir == "gs://b/idx"


def test_every_dataset_has_defaults_in_range():
  assert set(ACCURACY_THRESHOLDS) == set(TRAINING_DEFAULTS)
  for dataset, defaults in TRAINING_DEFAULTS.items():
    config = _config(hparams=HParams(dataset=dataset, **defaults.fields()),
                     accuracy_threshold=ACCURACY_THRESHOLDS[dataset])
    assert config.dataset == dataset


@pytest.mark.parametrize("overrides,error,message", [
    ({"hparams": HParams(train_steps=1)}, ValueError, "unknown dataset ''"),
    ({"accuracy_threshold": 1.5}, InvalidSetting, r"accuracy_threshold must be in \[0, 1\], got 1.5"),
])
def test_invalid_values_are_named(overrides, error, message):
  with pytest.raises(error, match=message):
    _config(**overrides)

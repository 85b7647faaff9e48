"""The Trainer's `train_steps` execution parameter, without a pipeline run."""

import pytest
from tfx.proto import trainer_pb2
from tfx.types import standard_component_specs as specs
from tfx.utils import proto_utils

from components.trainer import TRAIN_STEPS_KEY, Trainer, VertexExecutor, apply_train_steps


def _properties(steps):
  return {TRAIN_STEPS_KEY: steps,
          specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(trainer_pb2.TrainArgs(splits=["train"]))}


def test_train_steps_move_into_train_args():
  properties = apply_train_steps(_properties(1234))
  assert TRAIN_STEPS_KEY not in properties
  args = proto_utils.json_to_proto(properties[specs.TRAIN_ARGS_KEY], trainer_pb2.TrainArgs())
  assert args.num_steps == 1234 and list(args.splits) == ["train"]


def test_a_non_positive_step_count_is_refused():
  with pytest.raises(ValueError, match="train_steps must be positive, got 0"):
    apply_train_steps(_properties(0))


@pytest.mark.parametrize("on_vertex", [False, True])
def test_the_component_carries_steps_and_picks_its_executor(on_vertex):
  from tfx.types import channel
  from tfx.types import standard_artifacts
  trainer = Trainer(examples=channel.Channel(type=standard_artifacts.Examples),
                    run_fn="trainer_module.runner.run_fn", train_steps=77,
                    eval_args=trainer_pb2.EvalArgs(splits=["validation"], num_steps=5),
                    custom_config={"hparams": {"model": "cnn"}}, train_splits=["train"],
                    on_vertex=on_vertex)
  assert trainer.exec_properties[TRAIN_STEPS_KEY] == 77
  assert (trainer.executor_spec.executor_class is VertexExecutor) == on_vertex

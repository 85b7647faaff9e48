"""The TFX Trainer's GenericExecutor with our run_fn, as TFX (and Vertex AI) runs it.

Run as a module, it is one task of a TF_CONFIG cluster:
  python -m tests.support.tfx_trainer EXAMPLES_DIR OUT_DIR TRAIN_STEPS
"""

import json
import os
import sys

from tfx.components.trainer import executor as trainer_executor
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs as specs
from tfx.utils import proto_utils

HPARAMS = {"hparams": {"model": "cnn", "learning_rate": 1e-3, "batch_size": 20,
                       "dataset": "fashion_mnist"}}


def run_trainer(examples_dir, out_dir, train_steps=80, eval_steps=5, custom_config=None):
  """Runs the TFX Trainer's GenericExecutor with run_fn; returns (model, model_run) dirs."""
  examples = standard_artifacts.Examples()
  examples.uri = examples_dir
  examples.split_names = artifact_utils.encode_split_names(["train", "validation", "test"])
  model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
  model.uri, model_run.uri = os.path.join(out_dir, "model"), os.path.join(out_dir, "model_run")
  exec_properties = {
      specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(
          trainer_pb2.TrainArgs(splits=["train"], num_steps=train_steps)),
      specs.EVAL_ARGS_KEY: proto_utils.proto_to_json(
          trainer_pb2.EvalArgs(splits=["validation"], num_steps=eval_steps)),
      specs.CUSTOM_CONFIG_KEY: json.dumps(HPARAMS if custom_config is None else custom_config),
      specs.RUN_FN_KEY: "trainer_module.runner.run_fn",
  }
  trainer_executor.GenericExecutor().Do(
      {specs.EXAMPLES_KEY: [examples]},
      {specs.MODEL_KEY: [model], specs.MODEL_RUN_KEY: [model_run]}, exec_properties)
  return os.path.join(model.uri, "Format-Serving"), model_run.uri


if __name__ == "__main__":
  examples_dir, out_dir, steps = sys.argv[1:4]
  serving, _ = run_trainer(examples_dir, out_dir, train_steps=int(steps))
  print(json.dumps({"serving_model_dir": serving, "exists": os.path.isdir(serving)}))

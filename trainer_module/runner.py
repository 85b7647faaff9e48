"""The TFX Trainer entry point (GenericExecutor): wiring only."""

from tfx.components.trainer.fn_args_utils import FnArgs

from trainer_module.distribution import check_distribution, cluster_role, make_strategy
from trainer_module.hparams import HParams
from trainer_module.inputs import check_files
from trainer_module.trainer import train_and_export, wait_for_export


def run_fn(fn_args: FnArgs) -> None:
  """Hyperparameters from custom_config, steps from TrainArgs/EvalArgs, files from Examples.

  Under a TF_CONFIG cluster (Vertex AI worker pools, a TFJob) every task calls
  this; the chief exports and the others wait for its model.
  """
  hparams = HParams.from_custom_config(fn_args.custom_config, fn_args.train_steps,
                                       fn_args.eval_steps)
  role = cluster_role()
  check_distribution(hparams.distribute, role)
  strategy = make_strategy(hparams.distribute)  # Before the first TensorFlow op below.
  train_and_export(hparams, check_files(fn_args.train_files, "the train split"),
                   check_files(fn_args.eval_files, "the validation split"),
                   model_dir=fn_args.model_run_dir, export_dir=fn_args.serving_model_dir,
                   strategy=strategy, role=role)
  if not role.is_chief:
    wait_for_export(fn_args.serving_model_dir)
